"""Answer generators behind one streaming interface (see ``base.Backend``)."""
from assistant.answer.backends.base import Backend, BackendError, GenerationRequest, make_backend

__all__ = ["Backend", "BackendError", "GenerationRequest", "make_backend"]

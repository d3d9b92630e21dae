"""Web app settings. Every field can come from an environment variable so a deployment needs no code."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

#: statute file types the statutes tab accepts (the parser supports these; anything else is refused)
UPLOAD_TYPES = (".txt", ".md", ".docx", ".jsonl")

DEFAULT_EXAMPLES = (
    "醉驾怎么处罚？",
    "离婚冷静期是多久？",
    "用人单位不与劳动者签书面劳动合同，要承担什么责任？",
    "民法典第1043条是怎么规定的？",
)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"${name} must be an integer, got {value!r}") from None


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"${name} must be a number, got {value!r}") from None


@dataclass
class WebConfig:
    title: str = "法律助手 · 有据可查"
    #: login for the statutes tab; both unset = the tab is open (fine on 127.0.0.1, not on a shared host)
    admin_user: str | None = field(default_factory=lambda: _env("ASSISTANT_ADMIN_USER"))
    admin_password: str | None = field(default_factory=lambda: _env("ASSISTANT_ADMIN_PASSWORD"))
    #: per uploaded file; Gradio also refuses larger uploads before they reach a handler
    max_upload_mb: float = field(default_factory=lambda: _env_float("ASSISTANT_MAX_UPLOAD_MB", 20.0))
    #: chat requests answered at the same time; others wait in Gradio's queue
    concurrency: int = field(default_factory=lambda: _env_int("ASSISTANT_WEB_CONCURRENCY", 4))
    #: longest queue before new requests are refused with "queue full"
    max_queue: int = field(default_factory=lambda: _env_int("ASSISTANT_WEB_MAX_QUEUE", 200))
    max_question_chars: int = 2000
    default_top_k: int = 5
    max_top_k: int = 20
    examples: tuple[str, ...] = DEFAULT_EXAMPLES

    @property
    def auth_required(self) -> bool:
        return bool(self.admin_user or self.admin_password)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def validate(self) -> "WebConfig":
        if bool(self.admin_user) != bool(self.admin_password):
            raise ValueError("set both ASSISTANT_ADMIN_USER and ASSISTANT_ADMIN_PASSWORD (or neither)")
        if self.concurrency < 1:
            raise ValueError("ASSISTANT_WEB_CONCURRENCY must be at least 1")
        if self.max_upload_mb <= 0:
            raise ValueError("ASSISTANT_MAX_UPLOAD_MB must be positive")
        return self

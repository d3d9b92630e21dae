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
    #: login for the statutes tab; both unset = a one-time admin token is made at start-up (``admin_token``)
    admin_user: str | None = field(default_factory=lambda: _env("ASSISTANT_ADMIN_USER"))
    admin_password: str | None = field(default_factory=lambda: _env("ASSISTANT_ADMIN_PASSWORD"))
    #: the admin token (also accepted as the password); generated when neither it nor user/password is set
    admin_token: str | None = field(default_factory=lambda: _env("ASSISTANT_ADMIN_TOKEN"))
    #: explicit opt-out: the statutes tab open to anyone, allowed only when serving on a loopback address
    admin_open: bool = field(default_factory=lambda: _env("ASSISTANT_ADMIN_OPEN", "0").lower() in ("1", "true", "yes"))
    #: failed logins per client before lockouts start (each further failure doubles the lockout)
    login_free_failures: int = field(default_factory=lambda: _env_int("ASSISTANT_LOGIN_FREE_FAILURES", 5))
    #: per uploaded file; Gradio also refuses larger uploads before they reach a handler
    max_upload_mb: float = field(default_factory=lambda: _env_float("ASSISTANT_MAX_UPLOAD_MB", 20.0))
    #: chat requests answered at the same time; others wait in Gradio's queue
    concurrency: int = field(default_factory=lambda: _env_int("ASSISTANT_WEB_CONCURRENCY", 4))
    #: longest queue before new requests are refused with "queue full"
    max_queue: int = field(default_factory=lambda: _env_int("ASSISTANT_WEB_MAX_QUEUE", 200))
    #: the top-k slider's start; its range and the question length limit are the request validator's
    #: (assistant.answer.limits), shared with the API
    default_top_k: int = 5
    examples: tuple[str, ...] = DEFAULT_EXAMPLES

    @property
    def auth_required(self) -> bool:
        return not self.admin_open

    @property
    def token_generated(self) -> bool:
        return getattr(self, "_token_generated", False)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def validate(self, host: str | None = None) -> "WebConfig":
        """Check the settings; ``host`` (where the app will listen) refuses an open statutes tab beyond
        loopback. Makes the one-time admin token when no credentials are configured."""
        from assistant.webui.auth import is_loopback, new_admin_token

        if bool(self.admin_user) != bool(self.admin_password):
            raise ValueError("set both ASSISTANT_ADMIN_USER and ASSISTANT_ADMIN_PASSWORD (or neither)")
        if self.admin_open and host is not None and not is_loopback(host):
            raise ValueError(f"ASSISTANT_ADMIN_OPEN leaves the statutes tab open to anyone; it is allowed only on "
                             f"a loopback address, not {host}")
        if not self.admin_open and not self.admin_password and not self.admin_token:
            self.admin_token = new_admin_token()
            self._token_generated = True
        if self.login_free_failures < 1:
            raise ValueError("ASSISTANT_LOGIN_FREE_FAILURES must be at least 1")
        if self.concurrency < 1:
            raise ValueError("ASSISTANT_WEB_CONCURRENCY must be at least 1")
        if self.max_upload_mb <= 0:
            raise ValueError("ASSISTANT_MAX_UPLOAD_MB must be positive")
        return self

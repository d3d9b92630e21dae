"""Bounds on what a request may ask of the pipeline, shared by the CLI, the API and the web app, so that
one request cannot occupy a worker for minutes (every stage is linear; these keep the constant small)."""
from __future__ import annotations

#: a question longer than this is refused (an ordinary question is under 100 characters; a pasted case
#: description a few thousand)
MAX_QUESTION_CHARS = 4000


class InputTooLarge(ValueError):
    """A request over a documented limit; the message names the limit."""


def check_question(question) -> str:
    """The stripped question, or ``ValueError`` saying what is wrong with it."""
    if not isinstance(question, str):
        raise ValueError(f"the question must be text, got {type(question).__name__}")
    question = question.strip()
    if not question:
        raise ValueError("empty question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputTooLarge(f"the question is {len(question)} characters long; at most {MAX_QUESTION_CHARS}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the question is not valid Unicode text (it contains a lone surrogate)") from None
    return question

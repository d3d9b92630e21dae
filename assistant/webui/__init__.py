"""The Gradio web app: ``create_app(assistant, store)`` and ``launch(app)``; ``assistant serve`` runs it."""


def __getattr__(name):  # gradio is heavy: import it only when the app is actually built
    if name in ("create_app", "launch", "make_reindexer", "AssistantHolder"):
        from assistant.webui import app

        return getattr(app, name)
    raise AttributeError(name)

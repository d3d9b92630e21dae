"""The Gradio web app: ``create_app(assistant, store)`` and ``launch(app)``; ``assistant serve`` runs it."""


def __getattr__(name):  # gradio is heavy: import it only when the app is actually built
    if name in ("create_app", "launch"):
        from assistant.webui import app

        return getattr(app, name)
    if name in ("make_reindexer", "AssistantHolder", "AppState"):
        from assistant.webui import state

        return getattr(state, name)
    raise AttributeError(name)

"""One module per part of the web page, each a class that builds its components inside the page's
``gr.Blocks`` and wires their events to its own handlers: ``chat`` (the 咨询 tab), ``statutes`` (the 法规管理
tab), ``api`` (the /chat and /ask endpoints). What they share is ``assistant.webui.state.AppState``."""

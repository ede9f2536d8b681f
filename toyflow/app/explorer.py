"""The served explorer: ``panel serve`` runs this file once per session (``toyflow serve`` does
it for you). The page is :func:`toyflow.app.view.create_app`."""

import panel as pn

if pn.state.served:
    from toyflow.app.view import serve_main

    serve_main()

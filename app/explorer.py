"""toyflow explorer, served from a checkout: ``panel serve app/explorer.py --show`` (installed:
``toyflow serve``). The app lives in the package, :mod:`toyflow.app`."""

import panel as pn

if pn.state.served:
    from toyflow.app.view import serve_main

    serve_main()

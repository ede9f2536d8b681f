"""The explorer's web app (Panel) and its offline σ views (Bokeh)."""

"""Sphinx configuration of liqwatch's manual (MyST Markdown pages).

Build it strictly, as CI does: python -m sphinx -W --keep-going -n -b html docs /tmp/docs-out
(tests/docs/test_docs_build.py runs exactly that).
"""

from __future__ import annotations

project = "liqwatch"
author = "liqwatch contributors"
copyright = "liqwatch contributors, Apache-2.0"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# `page.md#section` links resolve to the section's heading anchor (slugs as GitHub makes them)
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

html_theme = "alabaster"  # builtin: nothing beyond sphinx and myst-parser to install
html_title = "liqwatch"
html_show_sourcelink = False

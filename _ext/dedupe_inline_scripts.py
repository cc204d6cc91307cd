"""Drop <script> entries a page would carry twice.

With Sphinx 7.4 + sphinx-thebe 0.3.1, sphinx-thebe's inline `const THEBE_JS_URL = ...` script
appears twice in every page (once with filename None, once ""), and the second copy throws
"SyntaxError: Identifier 'THEBE_JS_URL' has already been declared" in the reader's console.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (getattr(script, "filename", script) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

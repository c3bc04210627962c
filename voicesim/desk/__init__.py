"""The trainer's desk: a local web app (``voicesim review``) over the session folders.

Session folders stay the truth: :mod:`voicesim.desk.library` reads them into an
in-memory index refreshed by file times; :mod:`voicesim.desk.verdicts` keeps the
trainer's verdicts and comments in ``trainer.json``; :mod:`voicesim.desk.analytics`
is the pure part (which verdict counts, progress, pack grids, calibration);
:mod:`voicesim.desk.pages` renders HTML with Jinja2; :mod:`voicesim.desk.app` serves
it with Starlette and :mod:`voicesim.desk.export` writes it as a static site.
"""

"""The training-room hub: trainees' PCs upload finished calls to it; trainers read them.

Pieces, each replaceable at integration: :mod:`~voicesim.hub.app` (the ASGI app and
its auth middleware), :mod:`~voicesim.hub.store` (files + database behind one
interface), :mod:`~voicesim.hub.db` (tables and migrations), :mod:`~voicesim.hub.auth`,
:mod:`~voicesim.hub.schema` (what is accepted at the door), :mod:`~voicesim.hub.server`
(uvicorn, in the foreground or in a thread). Needs the ``voicesim[hub]`` extra.
"""

"""``deviceflow admin``: users, clients and device sessions managed in the server's database.

:mod:`.accounts` holds the operations (checks, hashing, audit) on a storage and settings;
:mod:`.cli` the command line over them. Both run against the same database (``--db``) and
configuration (``--config``) as ``deviceflow serve``; running servers see each change at their
next read (:mod:`deviceflow.server.grant._accounts`).
"""

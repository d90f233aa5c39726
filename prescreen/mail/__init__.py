"""Mail: what volunteers and families are sent, and the sender that delivers the outbox.

Split by meaning: :mod:`.render` writes messages into outbox rows (in the recipient's language,
at the moment the causing change commits); :mod:`.send` delivers rows (``prescreen mail send``),
whoever queued them; :mod:`.notify` tells volunteers about a newly posted study
(``prescreen studies publish``).
"""

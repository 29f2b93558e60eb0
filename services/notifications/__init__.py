"""Notifications: who is told what (a read model of users, roles and scopes from identity), e-mail over
SMTP, the in-app inbox, tenants' signed webhooks, preferences with daily digests, and reminders with
escalation from the school calendar (deadlines, semester evaluations, plans waiting for approval)."""

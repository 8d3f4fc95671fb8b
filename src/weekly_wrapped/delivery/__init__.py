"""Delivery: the recap email, and exactly-once sending of any email (DESIGN §1).

- `mailer.deliver`: send any `EmailMessage` once per (user, week, channel).
- `service.send_recap` / `service.send_week`: the weekly recap email.
- `transports`: the outbox folder or SMTP (`WRAPPED_EMAIL`); `smtp` wraps smtplib.

Import the submodules directly: the recap email loads matplotlib, which sending
another kind of email does not need.
"""

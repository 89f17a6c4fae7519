-- Prosody 0.12 (Debian 12) for bench/run-peers: loopback only, c2s on 127.0.0.1.
-- run-peers fills in the at-sign placeholders (the run's directory, port, certificate,
-- key, and "mam" or nothing). Adapted from the hand-made recipe in /work/shared/peers/prosody.
pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
log = { warn = "@DIR@/prosody.log" }
daemonize = false
network_backend = "epoll"
-- Nagle off: with it on, p99 at 2,000 msg/s was 41 ms instead of 4 ms on this machine.
network_settings = { nagle = false; tcp_backlog = 1024; }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { @PORT@ }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
admins = { }
-- No mod_limits: Debian's default caps each client at 10 kb/s. "mam" is dropped for the
-- no-archive variant. "smacks" gives XEP-0198 acknowledgements.
modules_enabled = {
  "disco"; "roster"; "saslauth"; "tls"; "smacks"; "ping"; "register"; "posix"; @MAM@
}
modules_disabled = { "s2s"; "limits"; }
-- STARTTLS is offered (the bench's clients require it); plain c2s stays allowed so that
-- run-peers can register the accounts in-band over loopback.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
-- Registration from 127.0.0.1 without throttling (it is on mod_register_limits' allow list).
min_seconds_between_registrations = 0
authentication = "internal_hashed"
storage = "sql"
sql = { driver = "SQLite3", database = "prosody.sqlite" }
default_archive_policy = true
archive_expires_after = "never"
ssl = { certificate = "@CERT@"; key = "@KEY@"; }
-- The session stays in memory for resumption this long after a disconnect (XEP-0198).
smacks_hibernation_time = 10
VirtualHost "localhost"
-- Fan-out: one MUC room (XEP-0045), unlocked on creation, no history for joiners, only
-- moderators' presence broadcast (each join would otherwise cost one stanza per occupant).
Component "conference.localhost" "muc"
  modules_enabled = { @MUC_MAM@ }
  restrict_room_creation = false
  muc_room_locking = false
  muc_room_default_history_length = 0
  muc_max_occupants = 2000
  muc_room_default_presence_broadcast = { moderator = true; participant = false; visitor = false; }

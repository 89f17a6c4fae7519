/*
 * help.c: every help text of `parley`, in one place so the global overview and the
 * per-command pages cannot drift apart. The global page also documents the JSON shapes,
 * which scripts depend on.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    const char *usage;
    const char *text;
} pages[] = {
    {"register", "register USERNAME",
     "Creates an account and logs this profile in to it. Usernames: 5-32 characters\n"
     "a-z 0-9 _, starting with a letter. The password (8-1024 bytes) comes from\n"
     "$PARLEY_PASSWORD, else it is asked for twice on the terminal without echo.\n"
     "A server that registers by invite only wants the code in $PARLEY_INVITE.\n"
     "Use --server URL (and --ca FILE for a self-signed server) the first time.\n"
     "Prints the user: {\"type\":\"user\",\"id\":N,\"username\":..,\"session\":SID}."},
    {"login", "login USERNAME",
     "Logs this profile in (a new session for this device). The password comes from\n"
     "$PARLEY_PASSWORD, else it is asked for on the terminal without echo.\n"
     "Prints the user like `register`."},
    {"logout", "logout",
     "Ends this device's session on the server and forgets it. Prints {\"type\":\"ok\"}."},
    {"whoami", "whoami",
     "Shows the account and session of this profile (checks it with the server)."},
    {"sessions", "sessions\n       sessions terminate SESSION_ID\n"
     "       sessions terminate --others",
     "Lists the account's sessions (devices), one line each; `current` marks this one.\n"
     "`terminate` ends one session, or with --others all but this one, and prints\n"
     "{\"type\":\"terminated\",\"ids\":[...]}."},
    {"sessions terminate", "sessions terminate SESSION_ID\n"
     "       sessions terminate --others",
     "Ends one session of your account, or with --others all but this device's.\n"
     "Prints {\"type\":\"terminated\",\"ids\":[...]}."},
    {"send", "send CHAT TEXT [--reply-to ID] [--ttl SECONDS]",
     "Sends TEXT (UTF-8, 1-4096 characters) to CHAT and prints the sent message.\n"
     "--reply-to ID  quote message ID of the same chat\n"
     "--ttl T        self-destruct timer: seconds or 30s/5m/1h/1d/1w (max 1 year);\n"
     "               in private chats it starts when the recipient reads the message\n"
     "Text starting with '--' goes after a `--` argument: send @bob -- --hi"},
    {"edit", "edit CHAT ID TEXT",
     "Replaces the text of your message ID and prints it ({\"type\":\"edit\",...})."},
    {"delete", "delete CHAT ID... [--for-everyone]",
     "Deletes up to 100 messages: for you only, or with --for-everyone for every member\n"
     "(your own messages, or any message as a group admin). Prints\n"
     "{\"type\":\"delete\",\"chat\":ID,\"ids\":[...],\"for_everyone\":BOOL}."},
    {"read", "read CHAT [ID]",
     "Marks CHAT read up to message ID (default: everything). Prints\n"
     "{\"type\":\"read\",\"chat\":ID,\"by\":ME,\"max_id\":N}."},
    {"history", "history CHAT [--limit N] [--before ID]",
     "Prints messages of CHAT, oldest first: the newest N (1-200, default 50), or the\n"
     "N before message ID."},
    {"chats", "chats",
     "Lists your chats with their unread counts and last message."},
    {"receive", "receive [--timeout SECONDS] [--follow]",
     "Prints the updates (messages, edits, deletions, read markers, chat changes) since\n"
     "this device's last `receive`, then waits up to --timeout seconds for more\n"
     "(default 0: print what is pending and exit), or forever with --follow (stop with\n"
     "Ctrl-C / SIGTERM; the position is saved, so nothing is skipped or repeated)."},
    {"group", "group create TITLE [@user...]\n       group add|remove CHAT @user...\n"
     "       group leave CHAT\n       group rename CHAT TITLE\n       group members CHAT\n"
     "       group admin|unadmin CHAT @user",
     "Manages groups (up to 1000 members; titles 1-128 characters). `create` prints the\n"
     "chat; add/remove/rename/admin/unadmin print the changed chat; `members` prints one\n"
     "{\"type\":\"member\",\"chat\":ID,\"id\":N,\"username\":..,\"role\":..} per member;\n"
     "`leave` prints {\"type\":\"ok\"}."},
    {"group create", "group create TITLE [@user...]",
     "Creates a group with you as its creator and the given users as members; prints it."},
    {"group add", "group add CHAT @user...", "Adds users to a group (admins only)."},
    {"group remove", "group remove CHAT @user...", "Removes users from a group (admins only)."},
    {"group leave", "group leave CHAT", "Leaves a group."},
    {"group rename", "group rename CHAT TITLE", "Changes a group's title (admins only)."},
    {"group members", "group members CHAT", "Lists a group's members and their roles."},
    {"group admin", "group admin CHAT @user", "Makes a member an admin (creator only)."},
    {"group unadmin", "group unadmin CHAT @user", "Makes an admin a plain member again."},
    {"chat", "chat autodelete CHAT SECONDS|off",
     "Sets the auto-delete timer applied to new messages of CHAT: seconds or\n"
     "30s/5m/1h/1d/1w (max 1 year), or `off`. Prints the chat."},
    {"chat autodelete", "chat autodelete CHAT SECONDS|off",
     "Sets the auto-delete timer applied to new messages of CHAT: seconds or\n"
     "30s/5m/1h/1d/1w (max 1 year), or `off`. Prints the chat."},
    {"secret", "secret start @USER [--device ID] | secret list | secret send ID TEXT\n"
     "       secret history ID | secret timer ID SECONDS|off | secret delete ID MSG_ID\n"
     "       secret verify ID [--mark-verified] | secret verify ID --start|--accept\n"
     "       [--timeout S] | secret accept-key ID | secret close ID",
     "Secret chats: end-to-end encrypted between this device and one device of the peer\n"
     "(--device, default: the peer's newest device). They exist only on those two devices.\n"
     "`timer` sets the self-destruct time after reading (1s to 1w, or off; shown on both\n"
     "sides); `delete` deletes a message on both devices; `verify` prints the fingerprint\n"
     "both devices show, 60 digits and the full-strength 80-digit form (compare it;\n"
     "--mark-verified records that). With both devices online, `verify ID --start` on one\n"
     "and `verify ID --accept` on the other show 7 emoji on both; type `match` on both if\n"
     "they are the same (anything else cancels): then the chat is marked verified on both.\n"
     "--timeout (default 120 s) cancels a run that does not finish. After the peer's key\n"
     "changed, sending is refused until `accept-key`; `close` wipes the chat on both devices."},
};

void help_global(FILE *f)
{
    fputs(
"usage: parley [--profile DIR] [--server URL] [--ca FILE] [--json] [--timeout-ms N]\n"
"              [COMMAND ...]\n"
"\n"
"Parley command-line client. Without a command it starts an interactive chat.\n"
"\n"
"Global options (before the command):\n"
"  --profile DIR    this device's profile (session, server, trusted certificate);\n"
"                   default $PARLEY_PROFILE or ~/.parley\n"
"  --server URL     server, e.g. wss://chat.example.org:8443 (remembered)\n"
"  --ca FILE        PEM certificate to trust for the server (remembered)\n"
"  --json           one JSON object per line on stdout; errors also as a JSON line\n"
"                   {\"error\":{\"code\":..,\"message\":..}} on stderr\n"
"  --timeout-ms N   how long to wait for the server's answers\n"
"  --help, --version\n"
"\n"
"Commands (`parley COMMAND --help` for details):\n"
"  register USERNAME                 create an account (password: $PARLEY_PASSWORD\n"
"  login USERNAME                    or a prompt) / log this device in\n"
"  logout | whoami\n"
"  sessions [terminate SESSION_ID | terminate --others]\n"
"  chats                             list chats\n"
"  send CHAT TEXT [--reply-to ID] [--ttl SECONDS]\n"
"  edit CHAT ID TEXT\n"
"  delete CHAT ID... [--for-everyone]\n"
"  read CHAT [ID]                    mark read\n"
"  history CHAT [--limit N] [--before ID]\n"
"  receive [--timeout SECONDS] [--follow]\n"
"  group create TITLE [@user...] | group add|remove CHAT @user... | group leave CHAT\n"
"  group rename CHAT TITLE | group members CHAT | group admin|unadmin CHAT @user\n"
"  chat autodelete CHAT SECONDS|off  (SECONDS may be 30s, 5m, 1h, 1d, 1w)\n"
"  secret start @USER [--device ID] | secret list | secret send ID TEXT\n"
"  secret history ID | secret timer ID SECONDS|off | secret delete ID MSG_ID\n"
"  secret verify ID [--mark-verified] | secret verify ID --start|--accept [--timeout S]\n"
"  secret accept-key ID | secret close ID\n"
"CHAT is @username (private chat) or a numeric chat id.\n"
"\n"
"JSON lines (--json):\n"
"  message  {\"type\":\"message\",\"chat\":ID,\"id\":N,\"from\":USER,\"text\":..,\"date\":UNIX,\n"
"            \"edit_date\":UNIX|null,\"reply_to\":N|null,\"ttl\":S|null}  (+\"service\":true)\n"
"  edit     the message shape with \"type\":\"edit\"\n"
"  delete   {\"type\":\"delete\",\"chat\":ID,\"ids\":[..],\"for_everyone\":BOOL}\n"
"  read     {\"type\":\"read\",\"chat\":ID,\"by\":USER,\"max_id\":N}\n"
"  chat     {\"type\":\"chat\",\"chat\":ID,\"kind\":\"private\"|\"group\",\"title\":..,\"members\":N,\n"
"            \"unread\":N,\"auto_delete\":S|null,\"last_message_id\":N|null,\"role\":..}\n"
"  secret_chat {\"type\":\"secret_chat\",\"secret_chat\":ID,\"peer\":USER,\"state\":\"pending\"|\n"
"            \"active\"|\"closed\",\"timer\":S|null,\"verified\":BOOL}; secret messages are\n"
"            message objects with \"secret\":true,\"secret_chat\":ID\n"
"  fingerprint {\"type\":\"fingerprint\",\"secret_chat\":ID,\"number\":..,\"long_number\":..}\n"
"  sas      {\"type\":\"sas\",\"secret_chat\":ID,\"state\":\"started\"|\"requested\"|\"accepted\"|\n"
"            \"show\"|\"confirmed\"|\"done\"|\"cancelled\"}  (+\"emoji\", or \"reason\",\"code\",\"by_peer\")\n"
"  member   {\"type\":\"member\",\"chat\":ID,\"id\":N,\"username\":..,\"role\":ROLE}\n"
"  user     {\"type\":\"user\",\"id\":N,\"username\":..,\"session\":SID}\n"
"  session  {\"type\":\"session\",\"id\":N,\"device\":..,\"created\":T,\"last_active\":T,\n"
"            \"current\":BOOL}\n"
"  also     {\"type\":\"terminated\",\"ids\":[..]}  {\"type\":\"chat_removed\",\"chat\":ID}\n"
"           {\"type\":\"session_ended\",\"session\":SID}  {\"type\":\"ok\"}\n"
"\n"
"Exit status: 0 ok, 1 refused by the server (or a local problem), 2 bad arguments,\n"
"3 connection or TLS problem.\n", f);
}

int help_command(FILE *f, const char *cmd)
{
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (strcmp(pages[i].name, cmd) == 0) {
            fprintf(f, "usage: parley [GLOBAL OPTIONS] %s\n\n%s\n", pages[i].usage,
                    pages[i].text);
            return 0;
        }
    return -1;
}

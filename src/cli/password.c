/*
 * password.c: gets the account password for `register` and `login`.
 *
 * Scripts set PARLEY_PASSWORD; people get a prompt on /dev/tty (not stdin, which may be a
 * pipe) with echo switched off. The password is never printed, logged or echoed, and the
 * buffers that held it are wiped. A signal during the prompt must not leave the terminal
 * without echo, so SIGINT/SIGTERM/SIGHUP are caught for the duration, the terminal is
 * restored, and then the signal is re-raised with its default action.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* Set by the handler while a prompt is active; a plain flag is all a handler may touch. */
static volatile sig_atomic_t prompt_signal;

static void on_prompt_signal(int sig)
{
    prompt_signal = sig;
}

/* Reads one line from fd into buf (without the newline). Returns its length, -1 on error,
 * -2 if longer than the buffer allows, -3 if interrupted by a signal. */
static ssize_t read_line(int fd, char *buf, size_t n)
{
    size_t len = 0;
    int too_long = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR) {
            if (prompt_signal)
                return -3;
            continue;
        }
        if (r < 0)
            return -1;
        if (r == 0 || ch == '\n')
            break;
        if (len + 1 < n)
            buf[len++] = ch;
        else
            too_long = 1;     /* keep reading to the end of the line, but fail */
    }
    buf[len] = '\0';
    if (too_long) {
        explicit_bzero(buf, n);
        return -2;
    }
    return (ssize_t)len;
}

/* Prompts on the terminal fd with echo off. Same returns as read_line. */
static ssize_t prompt_noecho(int fd, const char *prompt, char *buf, size_t n)
{
    struct termios old, quiet;
    int have_termios = tcgetattr(fd, &old) == 0;
    if (have_termios) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;
    ssize_t r = read_line(fd, buf, n);
    if (have_termios)
        tcsetattr(fd, TCSAFLUSH, &old);
    w = write(fd, "\n", 1);   /* the user's Enter was not echoed */
    return r;
}

static int read_from_tty(cli_ctx *ctx, int confirm, char *buf, size_t n)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return cli_error(ctx, CLI_EXIT_USAGE, "USAGE", "no password: set PARLEY_PASSWORD "
                         "or run from a terminal");

    struct sigaction sa = {0}, old_int, old_term, old_hup;
    sa.sa_handler = on_prompt_signal;   /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    prompt_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);

    char again[1100];
    ssize_t r = prompt_noecho(fd, "Password: ", buf, n);
    if (r >= 0 && confirm) {
        ssize_t r2 = prompt_noecho(fd, "Repeat password: ", again, sizeof again);
        if (r2 == -3)
            r = -3;
        else if (r2 < 0 || strcmp(buf, again) != 0)
            r = -4;
        explicit_bzero(again, sizeof again);
    }
    close(fd);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);

    if (r == -3) {
        explicit_bzero(buf, n);
        raise(prompt_signal);       /* default action now that the terminal is restored */
        return CLI_EXIT_FAIL;       /* if the signal was ignored */
    }
    if (r == -4) {
        explicit_bzero(buf, n);
        return cli_error(ctx, CLI_EXIT_USAGE, "USAGE", "the passwords do not match");
    }
    if (r == -2)
        return cli_error(ctx, CLI_EXIT_USAGE, "PASSWORD_INVALID", "password too long");
    if (r < 0)
        return cli_error(ctx, CLI_EXIT_FAIL, "USAGE", "cannot read the password from the "
                         "terminal");
    return 0;
}

int cli_password(cli_ctx *ctx, int confirm, char *buf, size_t n)
{
    const char *env = getenv("PARLEY_PASSWORD");
    if (env) {
        size_t len = strlen(env);
        if (len + 1 > n)
            return cli_error(ctx, CLI_EXIT_USAGE, "PASSWORD_INVALID", "password too long");
        memcpy(buf, env, len + 1);
        return 0;
    }
    return read_from_tty(ctx, confirm, buf, n);
}

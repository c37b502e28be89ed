/*
 * check.h - `tincan check DIR`: a regression suite of guests, each case a
 * NAME.bin or NAME.elf with its expected output (NAME.out), optional input
 * (NAME.in) and options and expectations (NAME.json). See the README's
 * "Regression suites" for the files, the report and the exit status.
 */
#ifndef API_CHECK_H
#define API_CHECK_H

/* Runs `tincan check` with argv[0] = "check"; returns the exit status. */
int check_main(int argc, char **argv);

#endif

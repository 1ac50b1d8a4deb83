/*
 * alternate: times two commands run alternately (A B A B ...), so slow drift in
 * the machine's load affects both alike. Each run is posix_spawn + waitpid,
 * timed with CLOCK_MONOTONIC; output goes to /dev/null. Prints one JSON object
 * with each command's median, mean and min in microseconds and the ratio of
 * medians B/A. Exits 1 if any run of either command fails.
 *
 * usage: alternate PAIRS -- A [args...] -- B [args...]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double run_once(char **argv, posix_spawn_file_actions_t *actions) {
  pid_t pid;
  double start = now_us();
  if (posix_spawn(&pid, argv[0], actions, NULL, argv, environ) != 0) return -1;
  int status;
  if (waitpid(pid, &status, 0) < 0) return -1;
  double elapsed = now_us() - start;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? elapsed : -1;
}

static double summary(const char *name, double *t, int n) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += t[i];
  qsort(t, (size_t)n, sizeof *t, cmp);
  double median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  printf("\"%s\":{\"median_us\":%.1f,\"mean_us\":%.1f,\"min_us\":%.1f}", name, median, sum / n, t[0]);
  return median;
}

int main(int argc, char **argv) {
  if (argc < 6 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: alternate PAIRS -- A [args...] -- B [args...]\n");
    return 64;
  }
  int pairs = atoi(argv[1]);
  if (pairs < 1 || pairs > 1000000) {
    fprintf(stderr, "alternate: PAIRS must be 1 to 1000000\n");
    return 64;
  }
  char **a = &argv[3];
  char **b = NULL;
  for (int i = 3; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      argv[i] = NULL;
      b = &argv[i + 1];
      break;
    }
  if (b == NULL || *b == NULL) {
    fprintf(stderr, "usage: alternate PAIRS -- A [args...] -- B [args...]\n");
    return 64;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  double *ta = calloc((size_t)pairs, sizeof *ta), *tb = calloc((size_t)pairs, sizeof *tb);
  if (!ta || !tb) return 1;
  for (int i = 0; i < pairs; i++) {
    ta[i] = run_once(a, &actions);
    tb[i] = run_once(b, &actions);
    if (ta[i] < 0 || tb[i] < 0) {
      fprintf(stderr, "alternate: run %d failed (%s)\n", i + 1, ta[i] < 0 ? a[0] : b[0]);
      return 1;
    }
  }
  printf("{\"pairs\":%d,", pairs);
  double median_a = summary("a", ta, pairs);
  printf(",");
  double median_b = summary("b", tb, pairs);
  printf(",\"ratio_of_medians\":%.3f}\n", median_b / median_a);
  return 0;
}

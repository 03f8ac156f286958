/*
 * `gcc -O2 -o /tmp/sendto bench/sfu/sendto.c && /tmp/sendto`: the kernel's CPU per loopback UDP
 * datagram from C, one `sendto` per datagram against `sendmmsg` batches of 9 and 32, to 50 sockets
 * read by a child process (the SFU's copies go to many peers' sockets). 1000-byte datagrams,
 * 60,000/s for 10 s per mode. This is the floor under the SFU's per-copy send; bench/sfu/sendto.ts
 * measures Node's send paths against the same receiver. Figures in docs/benchmarks.md (## SFU).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SOCKETS 50
#define TOTAL 600000
#define RATE 60000.0

static double cpu_seconds(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* Binds SOCKETS receivers on 127.0.0.1 and forks a reader; returns the reader's pid. */
static pid_t receivers(struct sockaddr_in *addr) {
  int fds[SOCKETS];
  for (int i = 0; i < SOCKETS; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fds[i], (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof addr[i];
    getsockname(fds[i], (struct sockaddr *)&addr[i], &len);
    int size = 4 << 20;
    setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  pid_t pid = fork();
  if (pid != 0) return pid;
  struct pollfd p[SOCKETS];
  for (int i = 0; i < SOCKETS; i++) p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
  char buf[2048];
  while (poll(p, SOCKETS, 3000) > 0)
    for (int i = 0; i < SOCKETS; i++)
      if (p[i].revents) while (recv(fds[i], buf, sizeof buf, MSG_DONTWAIT) > 0) {}
  _exit(0);
}

static void run(int batch, const struct sockaddr_in *addr) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  char pkt[1000];
  memset(pkt, 1, sizeof pkt);
  struct mmsghdr msgs[32];
  struct iovec iov[32];
  int sent = 0, next = 0;
  double c0 = cpu_seconds(), t0 = now();
  while (sent < TOTAL) {
    if (sent > (now() - t0) * RATE) {
      usleep(200);
      continue;
    }
    if (batch == 1) {
      sendto(s, pkt, sizeof pkt, 0, (const struct sockaddr *)&addr[next], sizeof addr[next]);
      next = (next + 1) % SOCKETS;
      sent++;
      continue;
    }
    for (int j = 0; j < batch; j++) {
      iov[j] = (struct iovec){.iov_base = pkt, .iov_len = sizeof pkt};
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      msgs[j].msg_hdr.msg_name = (void *)&addr[next];
      msgs[j].msg_hdr.msg_namelen = sizeof addr[next];
      next = (next + 1) % SOCKETS;
    }
    sent += sendmmsg(s, msgs, batch, 0);
  }
  printf("%-9s batch %2d: %.2f us CPU per datagram\n", batch == 1 ? "sendto" : "sendmmsg", batch, (cpu_seconds() - c0) * 1e6 / sent);
  close(s);
}

int main(void) {
  struct sockaddr_in addr[SOCKETS];
  pid_t reader = receivers(addr);
  int modes[] = {1, 9, 32, 1, 9, 32};
  for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) run(modes[i], addr);
  kill(reader, SIGKILL);
  waitpid(reader, NULL, 0);
  return 0;
}

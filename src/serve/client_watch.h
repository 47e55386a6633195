#pragma once
// Notices when the client of a request being served has gone away, so that
// its queued inputs are dropped instead of computed for nobody.
//
// cpp-httplib 0.11 (Debian 12's) gives a handler the peer's address but not
// its socket. The socket is found once, by matching the peer and local
// addresses against this process's open sockets; it stays open and ours while
// the handler runs, so the match cannot change under us.
#include <string>

namespace qsenti::serve {

class ClientWatch {
 public:
  ClientWatch(std::string remote_addr, int remote_port, int local_port);
  // True once the peer closed or reset the connection (or half-closed it, as
  // hyper, TEI's server, treats it by default). False while it is open or
  // when its socket could not be found.
  bool gone();

 private:
  std::string remote_addr_;
  int remote_port_, local_port_;
  int fd_ = -1;
  bool searched_ = false;
};

// The socket of this process connected to remote_addr:remote_port on
// local_port; -1 when none is. Exposed for tests.
int find_connected_socket(const std::string& remote_addr, int remote_port, int local_port);

}  // namespace qsenti::serve

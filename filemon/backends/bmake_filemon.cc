// bmake's filemon API over this library. Two implementations behind one C surface, chosen at
// run time: the filemon(4) device where the platform has one (bmake's own filemon_dev.c
// semantics), and on Linux a tracer process running the ptrace backend (see
// bmake_filemon_tracer.h for its protocol).

#include "filemon/backends/bmake_filemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <new>
#include <utility>

#include "filemon/backends/kernel/filemon_device.h"

#if defined(__linux__)
#include "filemon/backends/bmake_filemon_tracer.h"
#endif

// The opaque handle of the C API.
struct filemon {
  // The device (FreeBSD, NetBSD); empty on Linux.
  std::unique_ptr<filemon::FilemonDevice> device;
#if defined(__linux__)
  // The tracer process (Linux).
  filemon::BmakeTracerClient tracer;
#endif
};

extern "C" {

const char* filemon_path(void) {
  return filemon::PlatformHasFilemonDevice() ? filemon::kFilemonDevicePath : "ptrace";
}

struct filemon* filemon_open(void) {
  std::unique_ptr<struct filemon> F(new (std::nothrow) struct filemon);
  if (F == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  if (filemon::PlatformHasFilemonDevice()) {
    // As bmake's filemon_dev.c: up to six attempts, errno of the last one.
    int fd = -1;
    for (int attempt = 0; attempt < 6 && fd < 0; ++attempt) {
      fd = ::open(filemon::kFilemonDevicePath, O_RDWR | O_CLOEXEC);
    }
    if (fd < 0) return nullptr;  // errno from open(2)
    F->device = std::make_unique<filemon::FilemonDevice>(
        filemon::FilemonDevice::Adopt(fd, filemon::kFilemonDevicePath));
    return F.release();
  }
#if defined(__linux__)
  return F.release();
#else
  errno = ENXIO;
  return nullptr;
#endif
}

int filemon_setfd(struct filemon* F, int fd) {
  if (F->device != nullptr) {
    // Ownership: closed in every case (filemon_dev.c closes it after a successful ioctl;
    // bmake exits on failure). The kernel holds its own reference.
    int error_number = F->device->SetLogFdErrno(fd);
    ::close(fd);
    if (error_number != 0) {
      errno = error_number;
      return -1;
    }
    return 0;
  }
#if defined(__linux__)
  return F->tracer.SetFd(fd);
#else
  ::close(fd);
  errno = EBADF;
  return -1;
#endif
}

void filemon_setpid_parent(struct filemon* F, pid_t pid) {
#if defined(__linux__)
  if (F->device == nullptr) F->tracer.SetPidParent(pid);
#endif
}

int filemon_setpid_child(const struct filemon* F, pid_t pid) {
  if (F->device != nullptr) {
    int error_number = F->device->SetPidInChild(pid);
    if (error_number != 0) {
      errno = error_number;
      return -1;
    }
    return 0;
  }
#if defined(__linux__)
  return F->tracer.SetPidChild(pid);
#else
  errno = ENXIO;
  return -1;
#endif
}

int filemon_readfd(const struct filemon* F) {
#if defined(__linux__)
  if (F->device == nullptr) return F->tracer.ReadFd();
#endif
  return -1;
}

int filemon_process(struct filemon* F) {
#if defined(__linux__)
  if (F->device == nullptr) return F->tracer.Process();
#endif
  return 0;
}

int filemon_close(struct filemon* F) {
  std::unique_ptr<struct filemon> owned(F);  // freed on every path
  int error_number = 0;
  if (F->device != nullptr) {
    error_number = F->device->CloseErrno();
  }
#if defined(__linux__)
  else {
    error_number = F->tracer.Close();
  }
#endif
  if (error_number != 0) {
    errno = error_number;
    return -1;
  }
  return 0;
}

}  // extern "C"

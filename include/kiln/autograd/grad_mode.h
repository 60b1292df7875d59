// Grad mode: a thread-local switch. With it off, ops record no history.
#pragma once

namespace kiln {

bool grad_mode_enabled();

// Sets grad mode for the scope's lifetime, restoring the previous mode after.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace kiln

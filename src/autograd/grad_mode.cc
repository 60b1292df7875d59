#include "kiln/autograd/grad_mode.h"

namespace kiln {
namespace {
thread_local bool t_grad_mode = true;
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }

GradModeGuard::GradModeGuard(bool enabled) : previous_(t_grad_mode) { t_grad_mode = enabled; }
GradModeGuard::~GradModeGuard() { t_grad_mode = previous_; }

}  // namespace kiln

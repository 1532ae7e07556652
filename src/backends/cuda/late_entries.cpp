#include "backends/cuda/late_entries.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_toolchain.h"

namespace metallic::cuda {

namespace {

struct Job {
  std::shared_ptr<CudaContext> context;
  std::vector<std::weak_ptr<CudaKernel>> kernels;
  std::shared_ptr<const msl::TranslatedSource> source;
  CompileOptions options;
  int sm_version = 0, driver_version = 0;
};

void attach(const std::vector<std::weak_ptr<CudaKernel>>& kernels, const std::shared_ptr<CudaModule>& module) {
  for (const auto& w : kernels)
    if (auto k = w.lock()) k->attach_uniform(module);
}

// One detached thread at a time works through the queue and ends when it is empty. The worker
// is never destroyed (a detached thread may still be leaving it at exit); an atexit handler
// drops the jobs not started and waits for the running one.
class Worker {
 public:
  static Worker& get() {
    static Worker* w = new Worker;  // never destroyed: see above
    return *w;
  }

  void submit(Job job) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
    if (running_) return;
    running_ = true;
    std::thread([this] { loop(); }).detach();
  }

 private:
  Worker() : pid_(getpid()) {
    std::atexit([] { get().stop(); });
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!jobs_.empty() && !stopping_) {
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      run(job);
      job = Job{};  // the context and kernels released outside the lock
      lock.lock();
    }
    running_ = false;
    cv_.notify_all();
  }

  void run(const Job& job) {
    try {
      bool held = false;
      for (const auto& w : job.kernels) held = held || !w.expired();
      if (!held) return;  // the library is gone
      job.context->ensure_usable();
      CudaBinary binary = build(*job.source, job.options, job.sm_version, job.driver_version, Entries::Uniform, {},
                                false, false, /*background=*/true);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;  // exiting: the unit is in the disk cache for the next process
      }
      // Loaded when none of the context's streams has work queued (CudaContext::release): at
      // once if the device is idle, else on the thread that finishes the last running command
      // buffer. Loading a module may wait for the running kernels (lazy loading synchronises
      // the context); one of them may be waiting for work the program is about to submit.
      auto image = std::make_shared<const std::string>(std::move(binary.image));
      std::weak_ptr<CudaContext> weak = job.context;
      job.context->release([weak, kernels = job.kernels, image] {
        try {
          if (auto context = weak.lock()) attach(kernels, std::make_shared<CudaModule>(context, *image));
        } catch (...) {  // NOLINT(bugprone-empty-catch): the general entries stay in use
        }
      });
    } catch (...) {  // NOLINT(bugprone-empty-catch): the general entries stay in use
    }
  }

  void stop() {
    if (getpid() != pid_) return;  // a forked child has no worker thread
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();
    // One compile at most (loading is skipped once stopping_ is set); the bound is for a
    // worker stuck in the driver.
    cv_.wait_for(lock, std::chrono::seconds(60), [this] { return !running_; });
  }

  const pid_t pid_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool running_ = false, stopping_ = false;
};

}  // namespace

void add_uniform_entries(const std::shared_ptr<CudaContext>& context, const std::shared_ptr<CudaLibrary>& library,
                         const msl::TranslatedSource& source, const CompileOptions& options, int sm_version,
                         int driver_version) {
  std::vector<std::weak_ptr<CudaKernel>> kernels;
  for (const auto& k : library->module_kernels())
    if (k) kernels.push_back(k);
  if (kernels.empty()) return;
  CudaBinary cached = build(source, options, sm_version, driver_version, Entries::Uniform, {}, false,
                            /*cached_only=*/true);
  if (!cached.image.empty()) {
    attach(kernels, std::make_shared<CudaModule>(context, cached.image));
    return;
  }
  Worker::get().submit(Job{context, std::move(kernels), std::make_shared<const msl::TranslatedSource>(source), options,
                           sm_version, driver_version});
}

}  // namespace metallic::cuda

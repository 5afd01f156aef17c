#include "store/group_commit.h"

#include <algorithm>
#include <future>

#include "store/busy_retry.h"

namespace agnx::store {

struct GroupCommitWriter::Request {
  Write write;
  Status status;
  std::promise<Status> done;
};

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<Connection> connection, std::size_t max_group,
                                     std::chrono::milliseconds busy_deadline)
    : connection_(std::move(connection)),
      max_group_(max_group < 1 ? 1 : max_group),
      busy_deadline_(busy_deadline),
      thread_([this] { run(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

Status GroupCommitWriter::submit(Write write) {
  Request request{std::move(write), {}, {}};
  std::future<Status> done = request.done.get_future();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(&request);
    report_depth();
  }
  wake_.notify_one();
  return done.get();
}

void GroupCommitWriter::run() {
  while (true) {
    std::vector<Request*> group;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      while (!queue_.empty() && group.size() < max_group_) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
      report_depth();
      if (WriteObserver* observer = observer_.load()) observer->write_group(group.size());
    }
    commit_group(std::move(group));
  }
}

void GroupCommitWriter::report_depth() {
  if (WriteObserver* observer = observer_.load()) observer->write_queue_depth(queue_.size());
}

void GroupCommitWriter::commit_group(std::vector<Request*> group) {
  // Answers every request: its own write's status once committed, else `failure`.
  const auto answer = [&](const Status& failure) {
    for (Request* request : group) request->done.set_value(failure.ok() ? request->status : failure);
  };
  BusyRetry retry(busy_deadline_);
  while (true) {
    const Outcome outcome = run_transaction(group);
    const Status& failure = outcome.failure;
    if (failure.ok()) return answer({});
    if (retry.again(failure)) continue;
    if (failure.code() == StatusCode::kUnavailable || group.size() == 1) return answer(retry.given_up(failure));
    if (outcome.culprit == nullptr) {  // COMMIT failed: commit each write on its own
      for (Request* request : group) commit_group({request});
      return;
    }
    std::erase(group, outcome.culprit);  // the others run again without it
    outcome.culprit->done.set_value(failure);
  }
}

GroupCommitWriter::Outcome GroupCommitWriter::run_transaction(const std::vector<Request*>& group) {
  Connection& db = *connection_;
  const auto abandon = [&](Status failure, Request* culprit) {
    if (sqlite3_get_autocommit(db.handle()) == 0) db.exec("ROLLBACK");
    return Outcome{std::move(failure), culprit};
  };
  if (Status begun = db.run("BEGIN IMMEDIATE"); !begun.ok()) {
    return abandon(begun.with_context("starting a write transaction"), nullptr);
  }
  for (Request* request : group) {
    if (Status saved = db.run("SAVEPOINT write"); !saved.ok()) return abandon(saved, nullptr);
    request->status = request->write(db);
    if (sqlite3_get_autocommit(db.handle()) != 0) {
      // SQLite rolled the whole transaction back (disk full, I/O error).
      return abandon(request->status.ok() ? Status::internal("write transaction ended unexpectedly") : request->status,
                     request);
    }
    if (request->status.code() == StatusCode::kUnavailable) return abandon(request->status, request);
    if (!request->status.ok()) {
      if (Status undone = db.run("ROLLBACK TO write"); !undone.ok()) return abandon(undone, request);
    }
    if (Status released = db.run("RELEASE write"); !released.ok()) return abandon(released, nullptr);
  }
  if (Status committed = db.run("COMMIT"); !committed.ok()) {
    return abandon(committed.with_context("committing a write transaction"), nullptr);
  }
  return {};
}

}  // namespace agnx::store

#include "store/group_commit.h"

#include <future>

namespace agnx::store {

struct GroupCommitWriter::Request {
  Write write;
  Status status;
  std::promise<Status> done;
};

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<Connection> connection, std::size_t max_group)
    : connection_(std::move(connection)), max_group_(max_group < 1 ? 1 : max_group), thread_([this] { run(); }) {}

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
  }
  wake_.notify_one();
  return done.get();
}

void GroupCommitWriter::run() {
  while (true) {
    std::deque<Request*> group;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      while (!queue_.empty() && group.size() < max_group_) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    commit_group(group);
  }
}

void GroupCommitWriter::commit_group(std::deque<Request*>& group) {
  Connection& db = *connection_;
  Status failure = db.run("BEGIN IMMEDIATE").with_context("starting a write transaction");
  for (Request* request : group) {
    if (!failure.ok()) break;
    failure = db.run("SAVEPOINT write");
    if (!failure.ok()) break;
    request->status = request->write(db);
    if (sqlite3_get_autocommit(db.handle()) != 0) {
      // SQLite rolled the whole transaction back (disk full, I/O error).
      failure = request->status.ok() ? Status::internal("write transaction ended unexpectedly") : request->status;
      break;
    }
    if (!request->status.ok()) failure = db.run("ROLLBACK TO write");
    if (failure.ok()) failure = db.run("RELEASE write");
  }
  if (failure.ok()) failure = db.run("COMMIT").with_context("committing a write transaction");
  if (!failure.ok() && sqlite3_get_autocommit(db.handle()) == 0) db.exec("ROLLBACK");
  for (Request* request : group) {
    if (!failure.ok() && request->status.ok()) request->status = failure;
    request->done.set_value(request->status);
  }
}

}  // namespace agnx::store

// unixid's native binding: one PAM transaction (authenticate + account management) and NSS
// lookups. Each export checks and copies its arguments on the JS thread, queues the blocking call
// for the addon's own native threads (no V8 isolate; not the libuv pool, which crypto and fs share
// and which a 2 s PAM failure delay must never starve), and answers through a thread-safe function:
// callback(err: string | null, value). How many run at once is src/native/native-pool.ts's job.
#include <napi.h>

#include <grp.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

// The same limits as src/backends/username.ts, which refuses longer input before it gets here.
constexpr size_t kMaxUsername = 256;
constexpr size_t kMaxPassword = 4096;

// Overwrite memory that held a secret in a way the compiler may not elide.
void Wipe(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

// strerror is not thread-safe, and these run on many threads at once.
std::string ErrorText(const char* call, int code) {
  char buf[128];
  return std::string(call) + ": " + strerror_r(code, buf, sizeof buf);
}

// The one copy of a password the binding keeps: NUL-terminated C memory, wiped when the PAM
// transaction ends (or when the call is dropped before it ran). Not a std::string: moving a short
// one copies its bytes and leaves them behind in the moved-from object.
class Secret {
 public:
  Secret(const uint8_t* bytes, size_t size) : size_(size), data_(static_cast<char*>(malloc(size + 1))) {
    if (data_ == nullptr) throw std::bad_alloc();
    memcpy(data_, bytes, size);
    data_[size] = '\0';
  }
  Secret(Secret&& other) noexcept : size_(other.size_), data_(other.data_) { other.data_ = nullptr; }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret& operator=(Secret&&) = delete;
  ~Secret() { Erase(); }

  const char* c_str() const { return data_; }
  void Erase() {
    if (data_ == nullptr) return;
    Wipe(data_, size_ + 1);
    free(data_);
    data_ = nullptr;
  }

 private:
  size_t size_;
  char* data_;
};

// ---- The blocking part: plain C++, no N-API, runs on the call's own thread. ----

struct Conversation {
  const char* username;
  const char* password;     // the Secret's bytes, wiped after pam_end
  int password_prompts = 0;  // how many echo-off prompts were asked
  std::vector<std::string> messages;  // PAM_ERROR_MSG / PAM_TEXT_INFO, for the log
};

// The conversation function: the password answers the first echo-off prompt only. A second
// echo-off prompt (a one-time code, a new password) cannot be answered from a login form, so the
// transaction fails with PAM_CONV_ERR instead of sending the password to the wrong question.
int Converse(int num_msg, const struct pam_message** msg, struct pam_response** resp, void* appdata) {
  auto* conv = static_cast<Conversation*>(appdata);
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  auto* replies = static_cast<pam_response*>(calloc(static_cast<size_t>(num_msg), sizeof(pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < num_msg; i++) {
    const pam_message* m = msg[i];
    switch (m->msg_style) {
      case PAM_PROMPT_ECHO_OFF:
        if (conv->password_prompts++ > 0) goto fail;
        replies[i].resp = strdup(conv->password);
        if (replies[i].resp == nullptr) goto fail;
        break;
      case PAM_PROMPT_ECHO_ON:
        // Only a login-name prompt is answerable; the name was already given to pam_start.
        replies[i].resp = strdup(conv->username);
        if (replies[i].resp == nullptr) goto fail;
        break;
      case PAM_ERROR_MSG:
      case PAM_TEXT_INFO:
        // No exception may unwind through libpam's C frames: a message that cannot be kept is lost.
        try {
          if (m->msg != nullptr && conv->messages.size() < 8) conv->messages.emplace_back(m->msg, strnlen(m->msg, 512));
        } catch (const std::bad_alloc&) {
        }
        break;
      default:
        goto fail;
    }
  }
  *resp = replies;
  return PAM_SUCCESS;
fail:
  for (int i = 0; i < num_msg; i++) {
    if (replies[i].resp != nullptr) {
      Wipe(replies[i].resp, strlen(replies[i].resp));
      free(replies[i].resp);
    }
  }
  free(replies);
  return PAM_CONV_ERR;
}

const char* PamCodeName(int code) {
  switch (code) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_OPEN_ERR: return "PAM_OPEN_ERR";
    case PAM_SYMBOL_ERR: return "PAM_SYMBOL_ERR";
    case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
    case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
    case PAM_BUF_ERR: return "PAM_BUF_ERR";
    case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
    case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
    case PAM_CRED_INSUFFICIENT: return "PAM_CRED_INSUFFICIENT";
    case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_MAXTRIES: return "PAM_MAXTRIES";
    case PAM_NEW_AUTHTOK_REQD: return "PAM_NEW_AUTHTOK_REQD";
    case PAM_ACCT_EXPIRED: return "PAM_ACCT_EXPIRED";
    case PAM_CONV_ERR: return "PAM_CONV_ERR";
    case PAM_AUTHTOK_EXPIRED: return "PAM_AUTHTOK_EXPIRED";
    case PAM_ABORT: return "PAM_ABORT";
    case PAM_IGNORE: return "PAM_IGNORE";
    case PAM_MODULE_UNKNOWN: return "PAM_MODULE_UNKNOWN";
    default: return "PAM_UNKNOWN_CODE";
  }
}

// What both PAM calls report: the last step run, its code, pam_strerror text and whatever the
// modules said through the conversation.
struct PamOutcome {
  const char* step;
  int code;
  std::string text;
  std::vector<std::string> messages;
  int password_prompts;
};

// One PAM transaction with PAM_RHOST set: pam_authenticate (when `authenticate`) and then, only if
// that succeeded, pam_acct_mgmt; pam_end always. Reports the last step run and its result.
PamOutcome RunTransaction(const std::string& service, const std::string& username, const std::string& rhost, Conversation* conv,
                          bool authenticate) {
  struct pam_conv pc = {Converse, conv};
  pam_handle_t* pamh = nullptr;
  PamOutcome t{"start", pam_start(service.c_str(), username.c_str(), &pc, &pamh), "", {}, 0};
  if (t.code == PAM_SUCCESS && !rhost.empty()) {
    t.step = "set_item";
    t.code = pam_set_item(pamh, PAM_RHOST, rhost.c_str());
  }
  const int flags = authenticate ? PAM_DISALLOW_NULL_AUTHTOK : 0;
  if (t.code == PAM_SUCCESS && authenticate) {
    t.step = "authenticate";
    t.code = pam_authenticate(pamh, flags);
  }
  if (t.code == PAM_SUCCESS) {
    t.step = "acct_mgmt";
    t.code = pam_acct_mgmt(pamh, flags);
  }
  // pam_end first, so that nothing that may throw (the std::string copy) can skip it and leak the
  // handle with PAM_AUTHTOK unwiped. The text is copied to the stack before: the man page does not
  // promise pam_strerror's string outlives the handle it was asked with.
  char text[256] = "pam_start failed";
  if (pamh != nullptr) {
    snprintf(text, sizeof text, "%s", pam_strerror(pamh, t.code));
    pam_end(pamh, t.code);
  }
  t.text = text;
  t.messages = std::move(conv->messages);
  return t;
}

// Authentication and account phase in one transaction; the password is wiped right after pam_end.
PamOutcome PamLogin(const std::string& service, const std::string& username, Secret& password, const std::string& rhost) {
  Conversation conv{username.c_str(), password.c_str(), 0, {}};
  struct EraseOnExit {
    Secret& secret;
    ~EraseOnExit() { secret.Erase(); }
  } erase{password};  // an exception out of RunTransaction included
  PamOutcome t = RunTransaction(service, username, rhost, &conv, true);
  t.password_prompts = conv.password_prompts;
  return t;
}

// The account phase only (refresh).
PamOutcome PamAccount(const std::string& service, const std::string& username, const std::string& rhost) {
  char empty[1] = {'\0'};
  // No password to give: password_prompts starts at 1, so any echo-off prompt is a conversation error.
  Conversation conv{username.c_str(), empty, 1, {}};
  return RunTransaction(service, username, rhost, &conv, false);
}

struct NssUser {
  std::string name, gecos, home, shell;
  uid_t uid;
  gid_t gid;
};

// getpwnam_r: the user, or nothing when NSS does not know the name; throws on an NSS error.
std::optional<NssUser> LookUpUser(const std::string& name) {
  std::vector<char> buf(4096);
  for (;;) {
    struct passwd pw;
    struct passwd* found = nullptr;
    int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    // ENOENT/ESRCH/EBADF/EPERM mean "no such user" for getpwnam_r by POSIX's own list.
    if (found == nullptr) {
      if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return std::nullopt;
      throw std::runtime_error(ErrorText("getpwnam_r", rc));
    }
    auto text = [](const char* s) { return std::string(s != nullptr ? s : ""); };
    return NssUser{text(found->pw_name), text(found->pw_gecos), text(found->pw_dir), text(found->pw_shell), found->pw_uid, found->pw_gid};
  }
}

// Names of the primary and supplementary groups (getgrouplist). A gid with no group entry is
// skipped; throws on an NSS error.
std::vector<std::string> LookUpGroups(const std::string& name, gid_t primary) {
  int count = 64;
  std::vector<gid_t> gids(static_cast<size_t>(count));
  for (int attempt = 0; attempt < 8; attempt++) {
    int n = count;
    if (getgrouplist(name.c_str(), primary, gids.data(), &n) >= 0) {
      gids.resize(static_cast<size_t>(n));
      break;
    }
    if (n <= count) n = count * 2;  // some implementations do not report the size needed
    count = n;
    gids.assign(static_cast<size_t>(count), 0);
    if (attempt == 7) throw std::runtime_error("getgrouplist: too many groups");
  }
  std::vector<std::string> names;
  std::vector<char> buf(4096);
  for (gid_t gid : gids) {
    for (;;) {
      struct group gr;
      struct group* found = nullptr;
      int rc = getgrgid_r(gid, &gr, buf.data(), buf.size(), &found);
      if (rc == ERANGE && buf.size() < (1u << 22)) {
        buf.resize(buf.size() * 2);
        continue;
      }
      if (found != nullptr && found->gr_name != nullptr) names.emplace_back(found->gr_name);
      else if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) throw std::runtime_error(ErrorText("getgrgid_r", rc));
      break;
    }
  }
  return names;
}

// ---- The JS part: results become JS values on the JS thread. ----

// { step, code, codeName, text, messages[], passwordPrompts }
Napi::Value ToJs(Napi::Env env, const PamOutcome& t) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("step", t.step);
  out.Set("code", t.code);
  out.Set("codeName", PamCodeName(t.code));
  out.Set("text", t.text);
  Napi::Array messages = Napi::Array::New(env, t.messages.size());
  for (size_t i = 0; i < t.messages.size(); i++) messages.Set(static_cast<uint32_t>(i), t.messages[i]);
  out.Set("messages", messages);
  out.Set("passwordPrompts", t.password_prompts);
  return out;
}

// {name, uid, gid, gecos, home, shell} | null
Napi::Value ToJs(Napi::Env env, const std::optional<NssUser>& user) {
  if (!user) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", user->name);
  o.Set("uid", static_cast<double>(user->uid));
  o.Set("gid", static_cast<double>(user->gid));
  o.Set("gecos", user->gecos);
  o.Set("home", user->home);
  o.Set("shell", user->shell);
  return o;
}

Napi::Value ToJs(Napi::Env env, const std::vector<std::string>& names) {
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set(static_cast<uint32_t>(i), names[i]);
  return out;
}

// ---- From a pool thread back to the JS thread. ----

// What a finished call hands to the JS thread: its callback, and an error message or a value to
// convert there.
struct Reply {
  virtual ~Reply() = default;
  virtual Napi::Value Value(Napi::Env env) const = 0;
  std::optional<std::string> error;
  // Created and deleted on the JS thread only.
  Napi::FunctionReference* callback = nullptr;
};

template <typename T>
struct ReplyOf final : Reply {
  T value{};
  Napi::Value Value(Napi::Env env) const override { return ToJs(env, value); }
};

// Runs on the JS thread. A null env means Node is tearing the env down with this reply still
// queued: free the reply and touch nothing else (the callback's reference dies with the env).
void Deliver(Napi::Env env, Napi::Function, std::nullptr_t*, Reply* reply) {
  std::unique_ptr<Reply> owned(reply);
  if (env == nullptr) return;
  std::unique_ptr<Napi::FunctionReference> callback(owned->callback);
  if (!callback || callback->IsEmpty()) return;
  if (owned->error) callback->Call({Napi::String::New(env, *owned->error), env.Undefined()});
  else callback->Call({env.Null(), owned->Value(env)});
}

using Answer = Napi::TypedThreadSafeFunction<std::nullptr_t, Reply, Deliver>;

// A reply carrying `message`, or null when not even that can be allocated.
template <typename T>
std::unique_ptr<Reply> ErrorReply(const char* message) noexcept {
  try {
    auto reply = std::make_unique<ReplyOf<T>>();
    reply->error = message;
    return reply;
  } catch (...) {
    return nullptr;
  }
}

// One queued call: what to run on a pool thread, and whom to answer.
struct Job {
  virtual ~Job() = default;
  // Runs `execute` and packs its value or its error. Nothing may escape a thread's function
  // (std::terminate): out of memory, or anything a PAM module or NSS path throws, becomes an error
  // reply. Null only when no reply at all could be allocated.
  virtual std::unique_ptr<Reply> Run() noexcept = 0;
  Napi::FunctionReference* callback = nullptr;
};

template <typename T, typename Execute>
struct JobOf final : Job {
  explicit JobOf(Execute&& e) : execute(std::move(e)) {}
  Execute execute;
  std::unique_ptr<Reply> Run() noexcept override {
    try {
      auto reply = std::make_unique<ReplyOf<T>>();
      reply->value = execute();
      return reply;
    } catch (const std::exception& e) {
      return ErrorReply<T>(e.what());
    } catch (...) {
      return ErrorReply<T>("unknown exception in native call");
    }
  }
};

// The threads that run one env's calls. A call is queued and an idle thread takes it; a thread is
// started only when none is idle, so the JS pool (src/native/native-pool.ts), which bounds how many
// calls run at once, also bounds the threads, and a call blocked for good (NSS behind a dead SSSD)
// holds one thread while the next call gets another. A thread idle for 30 s ends. Starting a
// thread and a thread-safe function per call cost the JS thread ~60 µs each; a queued call costs a
// lock and a wake-up. One thread-safe function carries every reply back; it is unref'd so that a
// call that never returns cannot keep the process alive (the pool's timer keeps it alive while a
// caller still waits).
//
// The env's cleanup hook closes the pool (process exit, a worker_threads Worker ending): Node frees
// the thread-safe function right after, while a call may still be blocked. Idle threads end; a
// thread finishing later frees its reply unsent and ends.
struct Pool {
  // kIdleExit, unless UNIXID_NATIVE_IDLE_EXIT_MS says otherwise (tests watch threads end).
  static constexpr std::chrono::milliseconds kIdleExit{30000};
  std::chrono::milliseconds idle_exit = IdleExitFromEnv();
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::unique_ptr<Job>> queue;
  size_t idle = 0;
  bool open = true;
  Answer answer;

  static std::chrono::milliseconds IdleExitFromEnv() {
    const char* text = std::getenv("UNIXID_NATIVE_IDLE_EXIT_MS");
    if (text == nullptr || *text == '\0') return kIdleExit;
    char* end = nullptr;
    long ms = std::strtol(text, &end, 10);
    return *end == '\0' && ms > 0 ? std::chrono::milliseconds(ms) : kIdleExit;
  }

  void Serve(const std::shared_ptr<Pool>& self) {
    std::thread([self]() { self->Work(); }).detach();
  }

  void Work() {
    for (;;) {
      std::unique_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex);
        idle++;
        bool woke = wake.wait_for(lock, idle_exit, [this] { return !open || !queue.empty(); });
        idle--;
        if (!open || !woke) return;
        job = std::move(queue.front());
        queue.pop_front();
      }
      std::unique_ptr<Reply> reply = job->Run();
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return;
      // No reply (out of memory): nothing to send; the pool's timeout answers the caller.
      if (!reply) continue;
      reply->callback = job->callback;
      if (answer.NonBlockingCall(reply.get()) == napi_ok) reply.release();
    }
  }
};

// Queue `execute` (returning T, throwing on failure) on `pool` and answer `callback` with its result.
template <typename T, typename Execute>
void Start(const Napi::CallbackInfo& info, const std::shared_ptr<Pool>& pool, size_t callback_index, Execute execute) {
  Napi::Env env = info.Env();
  if (info.Length() <= callback_index || !info[callback_index].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
  auto job = std::make_unique<JobOf<T, Execute>>(std::move(execute));
  auto callback = std::make_unique<Napi::FunctionReference>(Napi::Persistent(info[callback_index].As<Napi::Function>()));
  job->callback = callback.get();
  Job* queued = job.get();
  bool start_thread;
  {
    std::lock_guard<std::mutex> lock(pool->mutex);
    pool->queue.push_back(std::move(job));
    start_thread = pool->queue.size() > pool->idle;
  }
  if (start_thread) {
    try {
      pool->Serve(pool);
    } catch (...) {
      // No thread to run it (std::system_error, or std::bad_alloc for the thread's state): take the
      // call back out, unless a thread that went idle meanwhile has it. Its callback reference is
      // still ours (below), so it is freed here exactly when the call can no longer be answered.
      std::string why = "cannot start a thread";
      try {
        throw;
      } catch (const std::exception& e) {
        why += std::string(": ") + e.what();
      } catch (...) {
      }
      std::unique_ptr<Job> refused;
      {
        std::lock_guard<std::mutex> lock(pool->mutex);
        for (auto it = pool->queue.begin(); it != pool->queue.end(); ++it) {
          if (it->get() == queued) {
            refused = std::move(*it);
            pool->queue.erase(it);
            break;
          }
        }
      }
      if (refused) throw Napi::Error::New(env, why);
    }
  }
  // From here the reply owns the reference (Deliver deletes it on the JS thread).
  callback.release();
  pool->wake.notify_one();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t max) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  }
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.size() > max || s.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " is too long or contains NUL");
  }
  return s;
}

// pamLoginAsync(service, username, password: Uint8Array, rhost, callback(err, outcome)).
// The password bytes are copied before this returns; the caller zero-fills its own.
void PamLoginAsync(const Napi::CallbackInfo& info, const std::shared_ptr<Pool>& pool) {
  Napi::Env env = info.Env();
  std::string service = StringArg(info, 0, "service", 255);
  std::string username = StringArg(info, 1, "username", kMaxUsername);
  if (info.Length() <= 2 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "password must be a Uint8Array");
  }
  auto pw = info[2].As<Napi::Uint8Array>();
  if (pw.ElementLength() > kMaxPassword || memchr(pw.Data(), '\0', pw.ElementLength()) != nullptr) {
    throw Napi::TypeError::New(env, "password is too long or contains NUL");
  }
  std::string rhost = StringArg(info, 3, "rhost", 255);
  Secret password(pw.Data(), pw.ElementLength());
  Start<PamOutcome>(info, pool, 4, [service = std::move(service), username = std::move(username), password = std::move(password), rhost = std::move(rhost)]() mutable {
                      return PamLogin(service, username, password, rhost);
                    });
}

// pamAccountAsync(service, username, rhost, callback(err, outcome)): the account phase only.
void PamAccountAsync(const Napi::CallbackInfo& info, const std::shared_ptr<Pool>& pool) {
  std::string service = StringArg(info, 0, "service", 255);
  std::string username = StringArg(info, 1, "username", kMaxUsername);
  std::string rhost = StringArg(info, 2, "rhost", 255);
  Start<PamOutcome>(info, pool, 3, [service = std::move(service), username = std::move(username), rhost = std::move(rhost)]() {
                      return PamAccount(service, username, rhost);
                    });
}

// getUserAsync(name, callback(err, user | null)).
void GetUserAsync(const Napi::CallbackInfo& info, const std::shared_ptr<Pool>& pool) {
  std::string name = StringArg(info, 0, "name", kMaxUsername);
  Start<std::optional<NssUser>>(info, pool, 1, [name = std::move(name)]() { return LookUpUser(name); });
}

// getGroupsAsync(name, gid, callback(err, names[])).
void GetGroupsAsync(const Napi::CallbackInfo& info, const std::shared_ptr<Pool>& pool) {
  std::string name = StringArg(info, 0, "name", kMaxUsername);
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "gid must be a number");
  gid_t gid = static_cast<gid_t>(info[1].As<Napi::Number>().Int64Value());
  Start<std::vector<std::string>>(info, pool, 2, [name = std::move(name), gid]() { return LookUpGroups(name, gid); });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto pool = std::make_shared<Pool>();
  pool->answer = Answer::New(env, "unixid.native", 0, 1);
  pool->answer.Unref(env);
  env.AddCleanupHook([pool]() {
    std::lock_guard<std::mutex> lock(pool->mutex);
    pool->open = false;
    pool->wake.notify_all();
  });
  auto add = [&](const char* name, void (*fn)(const Napi::CallbackInfo&, const std::shared_ptr<Pool>&)) {
    exports.Set(name, Napi::Function::New(env, [pool, fn](const Napi::CallbackInfo& info) { fn(info, pool); }, name));
  };
  add("pamLoginAsync", PamLoginAsync);
  add("pamAccountAsync", PamAccountAsync);
  add("getUserAsync", GetUserAsync);
  add("getGroupsAsync", GetGroupsAsync);
  return exports;
}

}  // namespace

NODE_API_MODULE(unixid_native, Init)

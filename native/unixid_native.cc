// unixid's native binding: one PAM transaction (authenticate + account management) and NSS
// lookups. Every function here blocks; unixid calls them only from its own worker threads,
// never from the event loop or the libuv pool.
#include <napi.h>

#include <grp.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// The same limits as src/backends/username.ts, which refuses longer input before it gets here.
constexpr size_t kMaxUsername = 256;
constexpr size_t kMaxPassword = 4096;

// Overwrite memory that held a secret in a way the compiler may not elide.
void Wipe(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

struct Conversation {
  const char* username;
  const char* password;     // NUL-terminated copy owned by PamLogin, wiped after pam_end
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
        if (m->msg != nullptr && conv->messages.size() < 8) conv->messages.emplace_back(m->msg, strnlen(m->msg, 512));
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

// The outcome object both PAM calls return: the last step run, its code by number and by name,
// pam_strerror text and whatever the modules said through the conversation.
Napi::Object Outcome(Napi::Env env, const char* step, int code, const std::string& text, const Conversation& conv, int prompts) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("step", step);
  out.Set("code", code);
  out.Set("codeName", PamCodeName(code));
  out.Set("text", text);
  Napi::Array messages = Napi::Array::New(env, conv.messages.size());
  for (size_t i = 0; i < conv.messages.size(); i++) messages.Set(static_cast<uint32_t>(i), conv.messages[i]);
  out.Set("messages", messages);
  out.Set("passwordPrompts", prompts);
  return out;
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

struct Transaction {
  const char* step;
  int code;
  std::string text;
};

// One PAM transaction with PAM_RHOST set: pam_authenticate (when `authenticate`) and then, only if
// that succeeded, pam_acct_mgmt; pam_end always. Reports the last step run and its result.
Transaction RunTransaction(const std::string& service, const std::string& username, const std::string& rhost, Conversation* conv,
                           bool authenticate) {
  struct pam_conv pc = {Converse, conv};
  pam_handle_t* pamh = nullptr;
  Transaction t{"start", pam_start(service.c_str(), username.c_str(), &pc, &pamh), ""};
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
  t.text = pamh != nullptr ? pam_strerror(pamh, t.code) : "pam_start failed";
  if (pamh != nullptr) pam_end(pamh, t.code);
  return t;
}

// pamLogin(service, username, password: Buffer, rhost) ->
//   { step, code, codeName, text, messages[], passwordPrompts }
// Authentication and account phase in one transaction. The password bytes are copied once,
// handed to PAM, and wiped after pam_end.
Napi::Value PamLogin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string service = StringArg(info, 0, "service", 255);
  std::string username = StringArg(info, 1, "username", kMaxUsername);
  if (info.Length() <= 2 || !info[2].IsBuffer()) throw Napi::TypeError::New(env, "password must be a Buffer");
  auto pw = info[2].As<Napi::Buffer<char>>();
  if (pw.Length() > kMaxPassword || memchr(pw.Data(), '\0', pw.Length()) != nullptr) {
    throw Napi::TypeError::New(env, "password is too long or contains NUL");
  }
  std::string rhost = StringArg(info, 3, "rhost", 255);

  char* password = static_cast<char*>(malloc(pw.Length() + 1));
  if (password == nullptr) throw Napi::Error::New(env, "out of memory");
  memcpy(password, pw.Data(), pw.Length());
  password[pw.Length()] = '\0';

  Conversation conv{username.c_str(), password, 0, {}};
  Transaction t = RunTransaction(service, username, rhost, &conv, true);
  Wipe(password, pw.Length());
  free(password);
  return Outcome(env, t.step, t.code, t.text, conv, conv.password_prompts);
}

// pamAccount(service, username, rhost) -> same shape as pamLogin, account phase only (refresh).
Napi::Value PamAccount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string service = StringArg(info, 0, "service", 255);
  std::string username = StringArg(info, 1, "username", kMaxUsername);
  std::string rhost = StringArg(info, 2, "rhost", 255);
  char empty[1] = {'\0'};
  // No password to give: password_prompts starts at 1, so any echo-off prompt is a conversation error.
  Conversation conv{username.c_str(), empty, 1, {}};
  Transaction t = RunTransaction(service, username, rhost, &conv, false);
  return Outcome(env, t.step, t.code, t.text, conv, 0);
}

Napi::Value PasswdToObject(Napi::Env env, const struct passwd* pw) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", pw->pw_name != nullptr ? pw->pw_name : "");
  o.Set("uid", static_cast<double>(pw->pw_uid));
  o.Set("gid", static_cast<double>(pw->pw_gid));
  o.Set("gecos", pw->pw_gecos != nullptr ? pw->pw_gecos : "");
  o.Set("home", pw->pw_dir != nullptr ? pw->pw_dir : "");
  o.Set("shell", pw->pw_shell != nullptr ? pw->pw_shell : "");
  return o;
}

// getUser(name) -> {name, uid, gid, gecos, home, shell} | null; throws on an NSS error.
Napi::Value GetUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "name", kMaxUsername);
  std::vector<char> buf(4096);
  for (;;) {
    struct passwd pw;
    struct passwd* found = nullptr;
    errno = 0;
    int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    // ENOENT/ESRCH/EBADF/EPERM mean "no such user" for getpwnam_r by POSIX's own list.
    if (found == nullptr) {
      if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return env.Null();
      throw Napi::Error::New(env, std::string("getpwnam_r: ") + strerror(rc));
    }
    return PasswdToObject(env, found);
  }
}

// getGroups(name, gid) -> string[]: names of the primary and supplementary groups (getgrouplist).
// A gid with no group entry is skipped; throws on an NSS error.
Napi::Value GetGroups(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "name", kMaxUsername);
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "gid must be a number");
  gid_t primary = static_cast<gid_t>(info[1].As<Napi::Number>().Int64Value());
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
    if (attempt == 7) throw Napi::Error::New(env, "getgrouplist: too many groups");
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t idx = 0;
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
      if (found != nullptr && found->gr_name != nullptr) out.Set(idx++, found->gr_name);
      else if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
        throw Napi::Error::New(env, std::string("getgrgid_r: ") + strerror(rc));
      }
      break;
    }
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pamLogin", Napi::Function::New(env, PamLogin));
  exports.Set("pamAccount", Napi::Function::New(env, PamAccount));
  exports.Set("getUser", Napi::Function::New(env, GetUser));
  exports.Set("getGroups", Napi::Function::New(env, GetGroups));
  return exports;
}

}  // namespace

NODE_API_MODULE(unixid_native, Init)

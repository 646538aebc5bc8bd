#include "src/data/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>

#include "src/common/error.h"
#include "src/data/spm/spm_plugin_api.h"

namespace lethe {

namespace {

// The SentencePiece plugin, loaded for the duration of one call. RTLD_DEEPBIND makes the
// plugin bind to its own bundled protobuf rather than LibTorch's (see spm_plugin_api.h);
// RTLD_NODELETE keeps it mapped after dlclose because protobuf cannot be unloaded safely.
struct SpmPlugin {
  void* handle = nullptr;
  decltype(&lethe_spm_train) train = nullptr;
  decltype(&lethe_spm_piece_size) piece_size = nullptr;
  decltype(&lethe_spm_encode) encode = nullptr;
  decltype(&lethe_spm_decode) decode = nullptr;

  SpmPlugin() = default;
  SpmPlugin(const SpmPlugin&) = delete;
  SpmPlugin& operator=(const SpmPlugin&) = delete;
  ~SpmPlugin() {
    if (handle != nullptr) dlclose(handle);
  }
};

// Where the plugin may be: $LETHE_SPM_PLUGIN, next to the running executable, and where the
// build put it.
std::vector<std::string> plugin_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("LETHE_SPM_PLUGIN"); env != nullptr && *env != '\0') {
    out.emplace_back(env);
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back((exe.parent_path() / "liblethe_spm.so").string());
  out.emplace_back(LETHE_SPM_PLUGIN_BUILD_PATH);
  return out;
}

void open_plugin(SpmPlugin& p) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtime refuses RTLD_DEEPBIND, and without it the two protobufs collide.
  fail(ErrorKind::kUsage, "the sentencepiece tokenizer is not available in sanitizer builds");
#endif
  std::string tried;
  for (const auto& path : plugin_candidates()) {
    if (!std::filesystem::exists(path)) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    p.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND | RTLD_NODELETE);
    if (p.handle == nullptr) {
      tried += "\n  " + path + ": " + dlerror();
      continue;
    }
    p.train = reinterpret_cast<decltype(p.train)>(dlsym(p.handle, "lethe_spm_train"));
    p.piece_size = reinterpret_cast<decltype(p.piece_size)>(dlsym(p.handle, "lethe_spm_piece_size"));
    p.encode = reinterpret_cast<decltype(p.encode)>(dlsym(p.handle, "lethe_spm_encode"));
    p.decode = reinterpret_cast<decltype(p.decode)>(dlsym(p.handle, "lethe_spm_decode"));
    if (p.train != nullptr && p.piece_size != nullptr && p.encode != nullptr && p.decode != nullptr) return;
    fail(ErrorKind::kInternal, "{} is not a lethe SentencePiece plugin", path);
  }
  fail(ErrorKind::kUsage,
       "the sentencepiece tokenizer needs the plugin liblethe_spm.so (set LETHE_SPM_PLUGIN); "
       "tried:{}", tried);
}

// What the plugin's callbacks write into.
struct CallState {
  std::string bytes;  // serialized model
  std::string error;
  ByteColumn* encoded = nullptr;
  bool narrow = true;
  std::string packed;
};

void on_bytes(void* ctx, const char* data, size_t size) {
  static_cast<CallState*>(ctx)->bytes.assign(data, size);
}

void on_error(void* ctx, const char* data, size_t size) {
  static_cast<CallState*>(ctx)->error.assign(data, size);
}

void on_text(void* ctx, const char* data, size_t size) {
  static_cast<CallState*>(ctx)->encoded->push(std::string_view(data, size));
}

void on_ids(void* ctx, const int32_t* ids, size_t count) {
  auto& s = *static_cast<CallState*>(ctx);
  // Little-endian, as the slice store expects.
  const size_t width = s.narrow ? 2 : 4;
  s.packed.clear();
  for (size_t i = 0; i < count; ++i) {
    const auto v = static_cast<uint32_t>(ids[i]);
    for (size_t b = 0; b < width; ++b) s.packed.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
  }
  s.encoded->push(s.packed);
}

}  // namespace

std::string train_sentencepiece(const RecordBatch& batch, const std::vector<uint32_t>& rows,
                                int vocab_size) {
  if (batch.payload_kind != PayloadKind::kText) {
    fail(ErrorKind::kUsage, "the sentencepiece tokenizer needs text records, not {}",
         payload_kind_name(batch.payload_kind));
  }
  if (rows.empty()) {
    fail(ErrorKind::kInput, "the sentencepiece tokenizer is trained on the public split only, "
         "and it is empty: set data.public_fraction or data.public_owners");
  }
  ByteColumn texts;
  for (uint32_t row : rows) texts.push(batch.payloads.at(row));
  SpmPlugin plugin;
  open_plugin(plugin);
  CallState state;
  if (plugin.train(texts.bytes.data(), texts.offsets.data(), texts.size(), vocab_size, on_bytes,
                   on_error, &state) != 0) {
    fail(ErrorKind::kInput, "training the sentencepiece tokenizer on {} public texts failed: {}",
         rows.size(), state.error);
  }
  return state.bytes;
}

int sentencepiece_vocab_size(const std::string& serialized_model) {
  SpmPlugin plugin;
  open_plugin(plugin);
  CallState state;
  int32_t size = 0;
  if (plugin.piece_size(serialized_model.data(), serialized_model.size(), &size, on_error,
                        &state) != 0) {
    fail(ErrorKind::kIntegrity, "{}", state.error);
  }
  return size;
}

void encode_sentencepiece(RecordBatch& batch, const std::string& serialized_model) {
  if (batch.payload_kind != PayloadKind::kText || batch.payload_type != PayloadType::kU8) {
    fail(ErrorKind::kInternal, "encode_sentencepiece needs byte-level text records");
  }
  const bool narrow = sentencepiece_vocab_size(serialized_model) <= 65536;
  SpmPlugin plugin;
  open_plugin(plugin);
  ByteColumn encoded;
  encoded.reserve(batch.size(), batch.payloads.bytes.size() * (narrow ? 1 : 2));
  CallState state;
  state.encoded = &encoded;
  state.narrow = narrow;
  if (plugin.encode(serialized_model.data(), serialized_model.size(),
                    batch.payloads.bytes.data(), batch.payloads.offsets.data(), batch.size(),
                    on_ids, on_error, &state) != 0) {
    // Every text before the failing one produced its IDs.
    fail(ErrorKind::kInput, "record '{}': sentencepiece cannot encode its text: {}",
         batch.ids.at(encoded.size()), state.error);
  }
  batch.payloads = std::move(encoded);
  batch.payload_type = narrow ? PayloadType::kU16 : PayloadType::kU32;
}

void decode_sentencepiece(RecordBatch& batch, const std::string& serialized_model) {
  if (batch.payload_kind != PayloadKind::kText ||
      (batch.payload_type != PayloadType::kU16 && batch.payload_type != PayloadType::kU32)) {
    fail(ErrorKind::kInternal, "decode_sentencepiece needs token IDs of text records");
  }
  const size_t width = payload_type_size(batch.payload_type);
  std::vector<int32_t> ids;
  std::vector<uint64_t> offsets{0};
  ids.reserve(batch.payloads.bytes.size() / width);
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::string_view p = batch.payloads.at(i);
    for (size_t k = 0; k + width <= p.size(); k += width) {
      uint32_t v = 0;
      for (size_t b = 0; b < width; ++b) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[k + b])) << (8 * b);
      ids.push_back(static_cast<int32_t>(v));
    }
    offsets.push_back(ids.size());
  }
  SpmPlugin plugin;
  open_plugin(plugin);
  ByteColumn decoded;
  decoded.reserve(batch.size(), ids.size() * 4);
  CallState state;
  state.encoded = &decoded;
  if (plugin.decode(serialized_model.data(), serialized_model.size(), ids.data(), offsets.data(), batch.size(),
                    on_text, on_error, &state) != 0) {
    fail(ErrorKind::kIntegrity, "record '{}': its token IDs do not decode with the workspace's tokenizer: {}",
         batch.ids.at(decoded.size()), state.error);
  }
  batch.payloads = std::move(decoded);
  batch.payload_type = PayloadType::kU8;
}

}  // namespace lethe

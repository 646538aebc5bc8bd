// The C interface between lethe and its SentencePiece plugin (liblethe_spm.so).
//
// Why a plugin: Debian's libsentencepiece bundles its own copy of protobuf-lite and exports
// those symbols, while libtorch_cpu links the system libprotobuf. Linking both into one
// process crashes before main (duplicate descriptor registration). The plugin links
// SentencePiece but not LibTorch, and lethe loads it with RTLD_DEEPBIND so that each side
// binds to its own protobuf. Only plain C types cross this boundary.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Receives bytes (a serialized model or an error message).
typedef void (*lethe_spm_bytes_sink)(void* ctx, const char* data, size_t size);
// Receives the token IDs of one text, in input order.
typedef void (*lethe_spm_ids_sink)(void* ctx, const int32_t* ids, size_t count);

// Texts are passed as one byte buffer with n+1 offsets (text i = bytes[offsets[i], offsets[i+1])).
// Every function returns 0 on success, non-zero after calling `error` with a message.

int lethe_spm_train(const char* bytes, const uint64_t* offsets, size_t n, int vocab_size,
                    lethe_spm_bytes_sink model, lethe_spm_bytes_sink error, void* ctx);

int lethe_spm_piece_size(const char* model, size_t model_size, int32_t* piece_size,
                         lethe_spm_bytes_sink error, void* ctx);

int lethe_spm_encode(const char* model, size_t model_size, const char* bytes,
                     const uint64_t* offsets, size_t n, lethe_spm_ids_sink ids,
                     lethe_spm_bytes_sink error, void* ctx);

// The inverse of encode, up to SentencePiece's normalization: text i is decoded from
// ids[offsets[i], offsets[i+1]) and handed to `text`, in input order.
int lethe_spm_decode(const char* model, size_t model_size, const int32_t* ids,
                     const uint64_t* offsets, size_t n, lethe_spm_bytes_sink text,
                     lethe_spm_bytes_sink error, void* ctx);

#ifdef __cplusplus
}
#endif

#include "crypto/seal.hpp"

#include <sodium.h>

namespace hearth::crypto {

Result<std::array<uint8_t, 32>> CurvePublicKey(const AuthorId& ed) {
  HEARTH_RETURN_IF_ERROR(Init());
  std::array<uint8_t, 32> out{};
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), ed.bytes.data()) != 0) {
    return Status::InvalidArgument("public key " + ed.ToHex().substr(0, 16) + " is not a valid Ed25519 key");
  }
  return out;
}

Result<SecretBytes> CurveSecretKey(const SigningKeyPair& me) {
  HEARTH_RETURN_IF_ERROR(Init());
  SecretBytes sk(crypto_scalarmult_curve25519_BYTES);
  if (crypto_sign_ed25519_sk_to_curve25519(sk.data(), me.secret_key.data()) != 0) {
    return Status::Internal("cannot derive X25519 secret key");
  }
  return sk;
}

Result<Bytes> SealTo(const AuthorId& recipient, std::span<const uint8_t> plaintext) {
  auto pk = CurvePublicKey(recipient);
  if (!pk.ok()) return pk.status();
  Bytes out(plaintext.size() + crypto_box_SEALBYTES);
  if (crypto_box_seal(out.data(), plaintext.data(), plaintext.size(), pk->data()) != 0) {
    return Status::Internal("crypto_box_seal failed");
  }
  return out;
}

Result<SecretBytes> OpenSealed(const SigningKeyPair& me, std::span<const uint8_t> sealed) {
  if (sealed.size() < crypto_box_SEALBYTES) return Status::Corruption("sealed box too short");
  auto pk = CurvePublicKey(me.public_key);
  if (!pk.ok()) return pk.status();
  auto sk = CurveSecretKey(me);
  if (!sk.ok()) return sk.status();
  SecretBytes out(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(), pk->data(), sk->data()) != 0) {
    return Status::Unauthenticated("sealed box is not addressed to this identity, or was altered");
  }
  return out;
}

PwHashParams DefaultPwHashParams() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

Result<SecretBytes> DeriveKey(std::string_view passphrase, std::span<const uint8_t> salt,
                              const PwHashParams& params) {
  HEARTH_RETURN_IF_ERROR(Init());
  if (salt.size() != crypto_pwhash_SALTBYTES) return Status::InvalidArgument("salt must be 16 bytes");
  if (params.opslimit < crypto_pwhash_OPSLIMIT_MIN || params.opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      params.memlimit < crypto_pwhash_MEMLIMIT_MIN || params.memlimit > (uint64_t{1} << 32)) {
    return Status::Corruption("Argon2id parameters out of range");
  }
  SecretBytes key(kAeadKeyBytes);
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), salt.data(),
                    params.opslimit, params.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("Argon2id ran out of memory");
  }
  return key;
}

}  // namespace hearth::crypto

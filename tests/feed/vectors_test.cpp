// Delta test vectors (docs/delta-format.md, "Test vectors"). Every input is
// fixed, and Ed25519 and XChaCha20-Poly1305 are deterministic given the seed
// and the nonce, so the bytes below are stable. If one of these tests fails,
// the wire format (or the payload encoding, src/codec/codec.cpp) changed:
// that is a format break, not a test to update casually.
//
// HEARTH_PRINT_VECTORS=1 prints the vectors in the form used by the doc.
#include <doctest/doctest.h>

#include "support/support.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec.hpp"
#include "feed/delta.hpp"

namespace hearth::feed {
namespace {
using ::hearth::testing::FromHex;
using ::hearth::testing::ToHex;

using crdt::MakeHlc;
using crdt::Op;
using crdt::OpKind;
using crdt::RecordOps;


template <size_t N>
std::array<uint8_t, N> FixedFromHex(std::string_view hex) {
  Bytes b = FromHex(hex);
  REQUIRE(b.size() == N);
  std::array<uint8_t, N> a{};
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}


RecordId Id(std::string_view hex) {
  auto r = RecordId::FromHex(hex);
  REQUIRE(r.ok());
  return *r;
}

Op Lww(std::string field, crdt::Hlc hlc, Value v) {
  Op op;
  op.field = std::move(field);
  op.kind = OpKind::kLwwSet;
  op.hlc = hlc;
  op.value = std::move(v);
  return op;
}

struct Vector {
  const char* name;
  // Inputs.
  const char* seed_hex;
  const char* scope_key_hex;
  const char* nonce_hex;
  DeltaHeader header;  // author is filled from the seed
  std::vector<RecordOps> records;
};

// Fixed inputs shared by the vectors.
constexpr const char* kSeedA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr const char* kSeedB = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
constexpr const char* kScopeKeyNorth =
    "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
constexpr const char* kScopeKeySouth =
    "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

constexpr uint64_t kT0 = 1'700'000'000'000ull;  // 2023-11-14T22:13:20Z

AuthorId PublicKeyOf(const char* seed_hex) {
  auto kp = crypto::SigningKeyPair::FromSeed(FromHex(seed_hex));
  REQUIRE(kp.ok());
  return kp->public_key;
}

std::vector<Vector> Vectors() {
  const AuthorId a = PublicKeyOf(kSeedA);
  const AuthorId b = PublicKeyOf(kSeedB);
  std::vector<Vector> vs;

  // 1. One lww string set on a worker record; first delta of author A.
  {
    Vector v{};
    v.name = "vector 1: lww set";
    v.seed_hex = kSeedA;
    v.scope_key_hex = kScopeKeyNorth;
    v.nonce_hex = "000000000000000000000000000000000000000000000001";
    v.header.seq = 1;
    v.header.scope = "agency/north";
    v.header.epoch = 1;
    v.header.hlc_min = MakeHlc(kT0, 0);
    v.header.hlc_max = MakeHlc(kT0, 0);
    v.header.op_count = 1;
    v.records = {RecordOps{"workers", Id("018bcfe5680000000000000000000001"),
                           {Lww("name", MakeHlc(kT0, 0), Value("Amina Yusuf"))}}};
    vs.push_back(std::move(v));
  }

  // 2. Author A's second delta (prev = hash of vector 1): set add, counter,
  //    status and a log entry in Chinese, on a case record.
  {
    Vector v{};
    v.name = "vector 2: set/counter/status/log";
    v.seed_hex = kSeedA;
    v.scope_key_hex = kScopeKeyNorth;
    v.nonce_hex = "101112131415161718191a1b1c1d1e1f2021222324252627";
    v.header.seq = 2;
    // prev is filled in from vector 1's hash.
    v.header.scope = "agency/north";
    v.header.epoch = 1;
    v.header.hlc_min = MakeHlc(kT0 + 60'000, 0);
    v.header.hlc_max = MakeHlc(kT0 + 60'001, 1);
    v.header.op_count = 4;
    Op add;
    add.field = "tags";
    add.kind = OpKind::kSetAdd;
    add.hlc = MakeHlc(kT0 + 60'000, 0);
    add.value = Value("urgent");
    Op counter;
    counter.field = "visits";
    counter.kind = OpKind::kCounter;
    counter.hlc = MakeHlc(kT0 + 60'000, 1);
    counter.p = 3;
    counter.n = 1;
    Op status;
    status.field = "stage";
    status.kind = OpKind::kStatus;
    status.hlc = MakeHlc(kT0 + 60'001, 0);
    status.rank = 2;
    status.value = Value("in_progress");
    Op log;
    log.field = "notes";
    log.kind = OpKind::kLogAppend;
    log.hlc = MakeHlc(kT0 + 60'001, 1);
    log.value = Value("家访已完成，客户情况稳定。");
    v.records = {RecordOps{"cases", Id("018bcfe5680000000000000000000002"),
                           {add, counter, status, log}}};
    vs.push_back(std::move(v));
  }

  // 3. Author B, seq 5 of its feed, in another scope (non-ASCII name) and
  //    epoch: an mv set whose context names two authors.
  {
    Vector v{};
    v.name = "vector 3: mv set with a two-author context";
    v.seed_hex = kSeedB;
    v.scope_key_hex = kScopeKeySouth;
    v.nonce_hex = "ffeeddccbbaa99887766554433221100ffeeddccbbaa9988";
    v.header.seq = 5;
    v.header.prev = FixedFromHex<32>(
        "5555555555555555555555555555555555555555555555555555555555555555");
    v.header.scope = "agency/南区";
    v.header.epoch = 7;
    v.header.hlc_min = MakeHlc(kT0 + 120'000, 3);
    v.header.hlc_max = MakeHlc(kT0 + 120'000, 3);
    v.header.op_count = 1;
    Op mv;
    mv.field = "availability";
    mv.kind = OpKind::kMvSet;
    mv.hlc = MakeHlc(kT0 + 120'000, 3);
    mv.value = Value("on_leave");
    mv.context.Raise(a, MakeHlc(kT0 + 60'001, 1));
    mv.context.Raise(b, MakeHlc(kT0 + 90'000, 0));
    v.records = {RecordOps{"workers", Id("018bcfe5680000000000000000000001"), {mv}}};
    vs.push_back(std::move(v));
  }
  return vs;
}

// Expected outputs, in the order of Vectors().
struct Expected {
  const char* public_key;
  const char* payload;
  const char* hash;
  const char* delta;
};
const Expected kExpected[] = {
    {"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
     // payload
     "9193a7776f726b657273c410018bcfe56800000000000000000000019194a46e616d6501cf018bcfe568000000ab416d"
     "696e61205975737566",
     "b1b2d9ce06b8e4422cf8399af61ab5d84d576d308dce228eacbb737f1dd00a23",
     // delta
     "0198c42003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b801c420000000000000000000"
     "0000000000000000000000000000000000000000000000ac6167656e63792f6e6f72746801cf018bcfe568000000cf01"
     "8bcfe56800000001c418000000000000000000000000000000000000000000000001c449b069f628de7efc2c282ec6bb"
     "790de8cda500ec48ef304eec797e25a161a31eab387cb1aa7adcd594376d94d0853f66fe373b3729cccab5cbc2c2a7ad"
     "77cdf0ae34c6e88824eea66997395dc7e93201f3f6fcfdec46cbbe72a1766411355117a5a5ee5803fbdf02f28369a868"
     "d21dae5bde17c73736ee2cbc7df24ade94c439fc6b689562e7a696040e"},
    {"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
     // payload
     "9193a56361736573c410018bcfe56800000000000000000000029494a47461677303cf018bcfe652600000a675726765"
     "6e7495a676697369747305cf018bcfe652600001030195a5737461676506cf018bcfe65261000002ab696e5f70726f67"
     "7265737394a56e6f74657307cf018bcfe652610001d927e5aeb6e8aebfe5b7b2e5ae8ce68890efbc8ce5aea2e688b7e6"
     "8385e586b5e7a8b3e5ae9ae38082",
     "06ccb80175f4cb76ce4d39bfebe26314ee1911b220e1e706a594a399526a0e8f",
     // delta
     "0198c42003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b802c420b1b2d9ce06b8e4422c"
     "f8399af61ab5d84d576d308dce228eacbb737f1dd00a23ac6167656e63792f6e6f72746801cf018bcfe652600000cf01"
     "8bcfe65261000104c418101112131415161718191a1b1c1d1e1f2021222324252627c4aeeda900ca2a83db6e1d2898f6"
     "f7715fb9c28a812fa426036ad3ef73bd9e1c1d6bc2517ce8c5e731ba140f96f7373f8048496c1f26b1df1cb7c541c034"
     "a6e7f89ce8a3fc354ab53059e083ec2bfaa958e6deec68e22e6d32ff53a304cd44c085afb1d96f86040daa0ab6a676de"
     "87ad49156b6f2e89dc24c3c6f4647fda584b52ac2aa8e25d15dfbaf4b12c5c62ad5ecefe40d6c213c2b5d3fc734963b7"
     "a67c47ee24b3761b6c98bebb24ad8c66e9b49422fd0473cb94dc7f82949c2a4ca51b9afad449019a6ef55407ed5a0b08"
     "1ff861a3060ec1853ab3d7af033ee380cc1a1de6c5ad6f82ab23f30e795f847a270a"},
    {"4fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4",
     // payload
     "9193a7776f726b657273c410018bcfe56800000000000000000000019195ac617661696c6162696c69747902cf018bcf"
     "e73cc00003a86f6e5f6c656176659292c42003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc86641255"
     "31b8cf018bcfe65261000192c4204fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4cf01"
     "8bcfe6c7900000",
     "6f1537469e8a486f8f1dcc25baa43dd2eb67b6433cdf1a1ff07c36c7edef3b63",
     // delta
     "0198c4204fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c405c420555555555555555555"
     "5555555555555555555555555555555555555555555555ad6167656e63792fe58d97e58cba07cf018bcfe73cc00003cf"
     "018bcfe73cc0000301c418ffeeddccbbaa99887766554433221100ffeeddccbbaa9988c4a7ca2e6d882a981e48814f3f"
     "e2fe65c1137d3cf2857f3acae98f16efb82412852317994677cee7b264afd00ec4b96d1ca2a7227d4840da0cc8ec562c"
     "3decac4e3f234ed80bca70070ced8efc6d0c1dc41f16e3dd2d1c34519dfd84e59845943e19904fc4be62fc888ae31bae"
     "ee071e4b47c0f7ed6ab9a2d7fc6aaca71b8484bb63af886cbb3197f0ce1ec4dfb2da498d9ebab8a6666230ab8d3ac310"
     "7980bf6afd3b480b555d658a2189929da9ac9ccacbd22c1cd8f66b03b5db092112a9723024d63da45414e260bb50a0ef"
     "dabcff4d43d81616d3c4cf39aa6094e025421a144144d43431e50f00"},
};

TEST_CASE("delta test vectors") {
  const bool print = std::getenv("HEARTH_PRINT_VECTORS") != nullptr;
  std::vector<Vector> vs = Vectors();
  REQUIRE(vs.size() == std::size(kExpected));
  crypto::Hash prev_hash{};
  for (size_t i = 0; i < vs.size(); ++i) {
    Vector& v = vs[i];
    const Expected& e = kExpected[i];
    const std::string name = v.name;
    CAPTURE(name);
    auto kp = crypto::SigningKeyPair::FromSeed(FromHex(v.seed_hex));
    REQUIRE(kp.ok());
    v.header.author = kp->public_key;
    if (i == 1) v.header.prev = prev_hash;  // vector 2 chains on vector 1
    const crypto::SecretBytes key = crypto::SecretBytes::Copy(FromHex(v.scope_key_hex));
    const crypto::Nonce nonce = FixedFromHex<24>(v.nonce_hex);

    const Bytes payload = codec::EncodePayload(v.records);
    auto sealed = SealDelta(v.header, payload, key, *kp, &nonce);
    REQUIRE(sealed.ok());
    auto parsed_own = ParseDelta(*sealed);
    REQUIRE(parsed_own.ok());
    prev_hash = parsed_own->hash;

    if (print) {
      std::printf("### %s\n", v.name);
      std::printf("seed        %s\n", v.seed_hex);
      std::printf("public key  %s\n", kp->public_key.ToHex().c_str());
      std::printf("scope key   %s\n", v.scope_key_hex);
      std::printf("nonce       %s\n", v.nonce_hex);
      std::printf("prev        %s\n", ToHex(v.header.prev).c_str());
      std::printf("header+ver  %s\n", ToHex(EncodeHeader(v.header)).c_str());
      std::printf("payload     %s\n", ToHex(payload).c_str());
      std::printf("hash        %s\n", ToHex(parsed_own->hash).c_str());
      std::printf("signature   %s\n", ToHex(parsed_own->signature).c_str());
      std::printf("delta (%zu bytes)\n%s\n\n", sealed->size(), ToHex(*sealed).c_str());
      continue;
    }

    // 1. Rebuilding from the inputs gives exactly the published bytes.
    CHECK(kp->public_key.ToHex() == std::string(e.public_key));
    CHECK(ToHex(payload) == std::string(e.payload));
    CHECK(ToHex(parsed_own->hash) == std::string(e.hash));
    CHECK(ToHex(*sealed) == std::string(e.delta));

    // 2. The published bytes parse, verify, open and decode to the ops.
    const Bytes delta = FromHex(e.delta);
    auto parsed = ParseDelta(delta);
    REQUIRE(parsed.ok());
    CHECK(parsed->header == v.header);
    CHECK(ToHex(parsed->hash) == std::string(e.hash));
    CHECK(VerifyDelta(*parsed).ok());
    auto plain = OpenDelta(*parsed, key);
    REQUIRE(plain.ok());
    CHECK(ToHex(*plain) == std::string(e.payload));
    auto ops = codec::DecodePayload(*plain);
    REQUIRE(ops.ok());
    CHECK(*ops == v.records);
    size_t op_count = 0;
    for (const auto& r : *ops) op_count += r.ops.size();
    CHECK(op_count == parsed->header.op_count);
  }
}

}  // namespace
}  // namespace hearth::feed

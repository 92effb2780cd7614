/*
 * libFuzzer target: what an unauthenticated peer can make the IKE engine
 * do. Each input is one datagram fed to the engine as if it had arrived on
 * UDP 500 or, with the non-ESP marker, on the NAT-T port: IKE_SA_INIT
 * requests (proposal choice, INVALID_KE_PAYLOAD, cookies, key exchange, new
 * half-open SAs up to the limit), retransmissions, and messages for unknown
 * or half-open SAs (which must not decrypt). Nothing may crash or leak, and
 * the half-open limit bounds what a flood can make the engine keep.
 *
 * The engine runs on its own loop without a daemon: no tenants (IKE_SA_INIT
 * then chooses from the safe defaults), no data plane, sockets on loopback
 * with ports the kernel picks.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/seal.h"
#include "concentrator/config.h"
#include "concentrator/event.h"
#include "concentrator/ike.h"
#include "concentrator/ike_net.h"
#include "concentrator/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static struct seal_key key;
static struct ike_engine *engine;
static struct evl *loop;

static void setup(void)
{
    char err[256];
    log_open(NULL, false, LOG_LVL_ERROR);
    config_defaults(&cfg);
    snprintf(cfg.ike_listen[0], sizeof(cfg.ike_listen[0]), "127.0.0.1");
    cfg.ike_listen_count = 1;
    cfg.ike_port = 0; /* any free port: the fuzzer never sends through them */
    cfg.natt_port = 0;
    cfg.half_open_limit = 64;
    cfg.half_open_per_peer = 16;
    cfg.cookie_threshold = 8;
    loop = evl_new();
    struct ike_engine_deps deps = {.cfg = &cfg, .loop = loop, .master_key = &key, .own_natt = true};
    engine = ike_engine_new(&deps, err, sizeof(err));
    if (!engine)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!engine)
        setup();
    if (size < 1 || size > 65535)
        return 0;
    /* Byte 0: the path (port kind and one of a few peer addresses). */
    struct ike_path path;
    memset(&path, 0, sizeof(path));
    struct sockaddr_in *peer = (struct sockaddr_in *)&path.peer;
    struct sockaddr_in *local = (struct sockaddr_in *)&path.local;
    peer->sin_family = local->sin_family = AF_INET;
    peer->sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(data[0] & 7)); /* 127.0.0.2-9 */
    peer->sin_port = htons(500);
    local->sin_addr.s_addr = htonl(0x7f000001u);
    local->sin_port = htons(500);
    bool natt = data[0] & 0x80;
    uint8_t buf[65536 + 4];
    size_t len = size - 1;
    if (natt) {
        path.natt = true;
        memset(buf, 0, 4); /* the non-ESP marker */
        memcpy(buf + 4, data + 1, len);
        len += 4;
    } else {
        memcpy(buf, data + 1, len);
    }
    ike_engine_natt_input(engine, buf, len, &path);
    return 0;
}

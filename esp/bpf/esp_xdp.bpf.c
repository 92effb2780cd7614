/*
 * XDP program of the AF_XDP receive path (esp/esp_xsk.h): ESP in UDP to the
 * NAT-T port goes to the AF_XDP socket of the receive queue it came in on,
 * so the worker that owns it reads it from a shared ring without a socket
 * receive per datagram. Everything else passes to the kernel's stack as if
 * there were no program: IKE on the NAT-T port (the 4-byte non-ESP marker),
 * NAT keepalives and anything shorter than an ESP header, other ports and
 * protocols, IP fragments and options-laden IPv6 (extension headers), VLAN
 * tags, frames too long for an AF_XDP frame, and every packet of a queue
 * without a socket.
 *
 * Built with clang -target bpf (Makefile) and embedded in isthmusd.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define FRAME_MAX (4096 - 256) /* ESP_XSK_FRAME_MAX */

/* Queue index -> AF_XDP socket (esp_xsk.c fills it). */
struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} isthmus_xsks SEC(".maps");

/* [0]: the NAT-T port, network order (esp_xsk.c sets it). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} isthmus_cfg SEC(".maps");

SEC("xdp")
int isthmus_esp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct udphdr *udp;
    if ((void *)(eth + 1) > end)
        return XDP_PASS;
    /* Longer than an AF_XDP frame holds (ESP_XSK_FRAME_MAX, esp/esp_xsk.h):
     * the socket takes it (a jumbo frame on a client-facing link). */
    if (end - data > FRAME_MAX)
        return XDP_PASS;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl < 5 ||
            (ip->frag_off & bpf_htons(0x3fff)))
            return XDP_PASS;
        udp = (void *)ip + ip->ihl * 4;
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
            return XDP_PASS;
        udp = (void *)(ip6 + 1);
    } else {
        return XDP_PASS;
    }
    __u8 *esp = (__u8 *)(udp + 1);
    if ((void *)(esp + 8) > end)
        return XDP_PASS; /* keepalive, runt, or not all here */
    __u32 zero = 0;
    __u32 *port = bpf_map_lookup_elem(&isthmus_cfg, &zero);
    if (!port || udp->dest != (__u16)*port)
        return XDP_PASS;
    if (*(__u32 *)esp == 0)
        return XDP_PASS; /* non-ESP marker: IKE, for the socket */
    return bpf_redirect_map(&isthmus_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";

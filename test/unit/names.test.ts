import { isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KpkiError } from "../../src/errors.js";
import { canonicalIp, dnsNameProblem, firstIpOfCidr, ipFamily, ipFromBytes, ipToBytes, missingAltNames, parseAltName, parseIp, sanIpBytes } from "../../src/pki/names.js";

/** The KpkiError a call throws (fails the test when it does not throw one). */
function thrown(call: () => unknown): KpkiError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(KpkiError);
    return error as KpkiError;
  }
  throw new Error("expected a KpkiError, but nothing was thrown");
}

describe("parseAltName", () => {
  it("takes an IPv4 address as an IP SAN", () => {
    expect(parseAltName("192.0.2.10")).toEqual({ type: "ip", value: "192.0.2.10" });
    expect(parseAltName("0.0.0.0")).toEqual({ type: "ip", value: "0.0.0.0" });
    expect(parseAltName("255.255.255.255")).toEqual({ type: "ip", value: "255.255.255.255" });
    expect(parseAltName(" 10.96.0.1 ")).toEqual({ type: "ip", value: "10.96.0.1" });
  });

  it("canonicalises IPv6, compressed or not, to RFC 5952 form", () => {
    expect(parseAltName("2001:db8::7")).toEqual({ type: "ip", value: "2001:db8::7" });
    expect(parseAltName("2001:0DB8:0000:0000:0000:0000:0000:0007")).toEqual({ type: "ip", value: "2001:db8::7" });
    expect(parseAltName("2001:DB8:0:0:0:0:0:7")).toEqual({ type: "ip", value: "2001:db8::7" });
    expect(parseAltName("0:0:0:0:0:0:0:1")).toEqual({ type: "ip", value: "::1" });
    expect(parseAltName("0:0:0:0:0:0:0:0")).toEqual({ type: "ip", value: "::" });
    expect(parseAltName("FD00:10:96:0:0:0:0:0")).toEqual({ type: "ip", value: "fd00:10:96::" });
    // The longest run of zeros is compressed; of two equal runs, the first; a lone zero group never.
    expect(parseAltName("1:0:0:1:0:0:0:1").value).toBe("1:0:0:1::1");
    expect(parseAltName("a:0:0:b:0:0:c:d").value).toBe("a::b:0:0:c:d");
    expect(parseAltName("1:0:1:0:1:0:1:0").value).toBe("1:0:1:0:1:0:1:0");
  });

  it("lower-cases DNS names", () => {
    expect(parseAltName("API.Example.COM")).toEqual({ type: "dns", value: "api.example.com" });
    expect(parseAltName("kubernetes")).toEqual({ type: "dns", value: "kubernetes" });
    expect(parseAltName("cp-1")).toEqual({ type: "dns", value: "cp-1" });
    expect(parseAltName("1e100.net")).toEqual({ type: "dns", value: "1e100.net" });
  });

  it("allows a leading wildcard label, and only that", () => {
    expect(parseAltName("*.example.com")).toEqual({ type: "dns", value: "*.example.com" });
    expect(parseAltName("*.Apps.Example.com")).toEqual({ type: "dns", value: "*.apps.example.com" });
    for (const bad of ["*", "a.*.example.com", "*.*.example.com", "x*.example.com"]) {
      expect(() => parseAltName(bad), bad).toThrow(KpkiError);
    }
  });

  it("accepts labels of 63 characters and names of 253", () => {
    const label63 = "a".repeat(63);
    expect(parseAltName(`${label63}.example.com`).value).toBe(`${label63}.example.com`);
    const name253 = [label63, label63, label63, "a".repeat(61)].join(".");
    expect(name253).toHaveLength(253);
    expect(parseAltName(name253).value).toBe(name253);
  });

  it.each([
    ["a space", "api example.com", /white space/],
    ["a tab", "api\texample.com", /white space/],
    ["an underscore", "_etcd-server._tcp.example.com", /"_"/],
    ["a label of 64 characters", `${"a".repeat(64)}.example.com`, /64 characters long \(63 at most\)/],
    ["a name of 254 characters", [..."abcd"].map((c) => c.repeat(63)).join(".").slice(0, 254), /254 characters long \(253 at most\)/],
    ["an empty label", "api..example.com", /empty label/],
    ["a leading dot", ".example.com", /empty label/],
    ["a trailing dot", "example.com.", /empty label/],
    ["a label starting with -", "-api.example.com", /not begin or end with "-"/],
    ["a label ending with -", "api-.example.com", /not begin or end with "-"/],
    ["a character outside a-z 0-9 -", "api!.example.com", /may hold only/],
  ])("rejects a DNS name with %s", (_what, name, reason) => {
    expect(name.length).toBeGreaterThan(0);
    const error = thrown(() => parseAltName(name));
    expect(error.kind).toBe("input");
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain(`--san "${name}"`);
    expect(error.message).not.toContain("\n");
  });

  it("rejects an empty SAN", () => {
    expect(thrown(() => parseAltName("")).message).toMatch(/empty/);
    expect(thrown(() => parseAltName("   ")).message).toMatch(/empty/);
  });

  it.each(["300.1.1.1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1..2.3"])("rejects the bad IPv4 address %s", (text) => {
    const error = thrown(() => parseAltName(text));
    expect(error.message).toMatch(/not a valid IPv4 address/);
  });

  it.each(["::zz", "2001:db8:::1", "1:2:3:4:5:6:7:8:9", "2001:db8::1::2", "fd00:10:96::/112", "[::1]"])(
    "rejects the bad IPv6 address %s",
    (text) => {
      const error = thrown(() => parseAltName(text));
      expect(error.message).toMatch(/not a valid IP address/);
    },
  );

  it("names the flag it was given in errors", () => {
    expect(thrown(() => parseAltName("a b", "--node-name")).message).toMatch(/^--node-name "a b"/);
  });
});

describe("dnsNameProblem", () => {
  it("is undefined for a good name and says why for a bad one", () => {
    expect(dnsNameProblem("kubernetes.default.svc.cluster.local")).toBeUndefined();
    expect(dnsNameProblem("")).toBe("it is empty");
    expect(dnsNameProblem("a_b")).toMatch(/"_"/);
  });
});

describe("firstIpOfCidr", () => {
  it("gives the first usable address of a service subnet", () => {
    expect(firstIpOfCidr("10.96.0.0/12")).toBe("10.96.0.1");
    expect(firstIpOfCidr("10.100.0.0/16")).toBe("10.100.0.1");
    expect(firstIpOfCidr("192.168.7.0/24")).toBe("192.168.7.1");
    expect(firstIpOfCidr("10.96.0.0/30")).toBe("10.96.0.1");
    expect(firstIpOfCidr(" 10.96.0.0/12 ")).toBe("10.96.0.1");
  });

  it("masks host bits as Go's net.ParseCIDR does", () => {
    expect(firstIpOfCidr("10.96.5.7/12")).toBe("10.96.0.1");
    expect(firstIpOfCidr("10.111.255.255/12")).toBe("10.96.0.1");
    expect(firstIpOfCidr("172.16.200.9/13")).toBe("172.16.0.1");
    expect(firstIpOfCidr("0.0.0.0/0")).toBe("0.0.0.1");
    expect(firstIpOfCidr("fd00:10:96::abcd/112")).toBe("fd00:10:96::1");
  });

  it("handles IPv6 service subnets", () => {
    expect(firstIpOfCidr("fd00:10:96::/112")).toBe("fd00:10:96::1");
    expect(firstIpOfCidr("FD00:0010:0096:0000:0000:0000:0000:0000/108")).toBe("fd00:10:96::1");
    expect(firstIpOfCidr("2001:db8:1:2::/64")).toBe("2001:db8:1:2::1");
    expect(firstIpOfCidr("::/0")).toBe("::1");
  });

  it.each(["10.96.0.0/32", "10.96.0.0/31", "fd00:10:96::/128", "fd00:10:96::/127"])("refuses %s: no room for a service IP", (cidr) => {
    const error = thrown(() => firstIpOfCidr(cidr));
    expect(error.kind).toBe("input");
    expect(error.message).toMatch(/too small to hold a service IP/);
  });

  it.each(["10.96.0.0/33", "fd00::/129"])("refuses the over-long prefix %s", (cidr) => {
    expect(thrown(() => firstIpOfCidr(cidr)).message).toMatch(/prefix length must be at most (32|128)/);
  });

  it.each(["", "garbage", "10.96.0.0", "10.96.0.0/", "/12", "10.96.0.0/12/1", "10.96.0/12", "300.96.0.0/12", "10.96.0.0/abc", "fd00::zz/112", "10.96.0.0/1234"])(
    "refuses the garbage %j",
    (cidr) => {
      const error = thrown(() => firstIpOfCidr(cidr));
      expect(error.message).toMatch(/is not a CIDR such as 10\.96\.0\.0\/12/);
    },
  );

  it("names the flag it was given in errors", () => {
    expect(thrown(() => firstIpOfCidr("nope", "--pod-cidr")).message).toMatch(/^--pod-cidr "nope"/);
  });
});

describe("ipToBytes and ipFromBytes", () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);
  const zeros = (count: number) => Array<number>(count).fill(0);

  it("reads IPv4 as four bytes", () => {
    expect(ipToBytes("192.0.2.10")).toEqual(bytes(192, 0, 2, 10));
    expect(ipToBytes("0.0.0.0")).toEqual(bytes(0, 0, 0, 0));
    expect(ipFromBytes(bytes(10, 96, 0, 1))).toBe("10.96.0.1");
  });

  it("reads IPv6 as sixteen bytes", () => {
    expect(ipToBytes("::1")).toEqual(bytes(...zeros(15), 1));
    expect(ipToBytes("::")).toEqual(bytes(...zeros(16)));
    expect(ipToBytes("1::")).toEqual(bytes(0, 1, ...zeros(14)));
    expect(ipToBytes("2001:db8::7")).toEqual(bytes(0x20, 0x01, 0x0d, 0xb8, ...zeros(11), 7));
    expect(ipToBytes("fd00:10:96::1")).toEqual(bytes(0xfd, 0, 0, 0x10, 0, 0x96, ...zeros(9), 1));
    expect(ipToBytes("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toEqual(bytes(...Array<number>(16).fill(0xff)));
  });

  it("reads an IPv4-mapped IPv6 address with its dotted tail", () => {
    const mapped = bytes(...zeros(10), 0xff, 0xff, 1, 2, 3, 4);
    expect(ipToBytes("::ffff:1.2.3.4")).toEqual(mapped);
    expect(ipToBytes("::FFFF:1.2.3.4")).toEqual(mapped);
    expect(ipToBytes("0:0:0:0:0:ffff:1.2.3.4")).toEqual(mapped);
    expect(ipToBytes("::ffff:102:304")).toEqual(mapped);
    expect(ipToBytes("64:ff9b::192.0.2.33")).toEqual(bytes(0, 0x64, 0xff, 0x9b, ...zeros(8), 192, 0, 2, 33));
  });

  it("takes an IPv4-mapped IPv6 address for the IPv4 address it maps, as Go does (net.IP.Equal, To4)", () => {
    for (const text of ["::ffff:1.2.3.4", "::FFFF:1.2.3.4", "0:0:0:0:0:ffff:1.2.3.4", "::ffff:102:304"]) {
      expect(canonicalIp(text), text).toBe("1.2.3.4");
      expect(sanIpBytes(text), text).toEqual(bytes(1, 2, 3, 4));
      expect(parseAltName(text), text).toEqual({ type: "ip", value: "1.2.3.4" });
    }
    expect(missingAltNames({ dns: [], ips: ["1.2.3.4"] }, { dns: [], ips: ["::ffff:1.2.3.4"] })).toEqual([]);
    // Only ::ffff:0:0/96 maps: the NAT64 prefix and IPv4-compatible addresses stay IPv6.
    expect(sanIpBytes("64:ff9b::192.0.2.33")).toHaveLength(16);
    expect(sanIpBytes("::1.2.3.4")).toHaveLength(16);
    expect(sanIpBytes("::1:ffff:1.2.3.4")).toHaveLength(16);
    expect(canonicalIp("2001:db8::7")).toBe("2001:db8::7");
  });

  it.each([
    ["192.0.2.10", "192.0.2.10"],
    ["255.255.255.255", "255.255.255.255"],
    ["::1", "::1"],
    ["::", "::"],
    ["1::", "1::"],
    ["2001:db8::7", "2001:db8::7"],
    ["2001:0db8:0000:0000:0000:0000:0000:0007", "2001:db8::7"],
    ["fd00:10:96::1", "fd00:10:96::1"],
    ["fe80::1:0:0:1", "fe80::1:0:0:1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
    ["::ffff:102:304", "::ffff:1.2.3.4"],
  ])("round-trips %s (as %s)", (text, canonical) => {
    const raw = ipToBytes(text);
    expect(raw).toHaveLength(text.includes(":") ? 16 : 4);
    const back = ipFromBytes(raw);
    expect(back).toBe(canonical);
    // The canonical text reads back to the same bytes and is its own canonical form.
    expect(ipToBytes(back)).toEqual(raw);
    expect(ipFromBytes(ipToBytes(back))).toBe(back);
  });

  it("round-trips every single-bit IPv6 address", () => {
    for (let bit = 0; bit < 128; bit++) {
      const raw = new Uint8Array(16);
      raw[bit >> 3] = 0x80 >> (bit & 7);
      expect(ipToBytes(ipFromBytes(raw)), `bit ${bit}`).toEqual(raw);
    }
  });
});

describe("IPv6 zones", () => {
  it("refuses an address with a zone, which a certificate cannot hold", () => {
    expect(() => parseIp("fe80::1%eth0", "--master-ip")).toThrow(/zone/);
    expect(() => parseAltName("fe80::1%eth0")).toThrow(/zone/);
  });
});

describe("ipFamily", () => {
  it("is net.isIP's answer for addresses, names and near misses", () => {
    const text = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4Extended(),
      fc.domain(),
      fc.stringMatching(/^[0-9a-fA-F:.%]{0,40}$/),
      fc.string({ maxLength: 40 }),
      fc.constantFrom("::", "::1", "::ffff:192.0.2.1", "fe80::1%eth0", "1.2.3", "1.2.3.256", "01.2.3.4", ":", "a:b", "kubernetes"),
    );
    fc.assert(
      fc.property(text, (value) => {
        expect(ipFamily(value), value).toBe(isIP(value));
      }),
      { numRuns: 2000 },
    );
  });
});

import { BitString, AsnConvert } from "@peculiar/asn1-schema";
import * as asn1js from "asn1js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { namedBits, octetString, oid, setOf, time, tlv, unsignedInteger } from "../../src/pki/derencode.js";

// asn1js, the DER library under @peculiar/x509 (kpki's reference for every
// certificate byte), encodes the same values: each encoder must agree with it.
const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("hex");

describe("DER element lengths", () => {
  it("are asn1js's at every length form boundary", () => {
    for (const length of [0, 1, 127, 128, 255, 256, 65_535, 65_536, 70_000]) {
      const content = new Uint8Array(length).fill(0xab);
      expect(hex(octetString(content))).toBe(hex(new asn1js.OctetString({ valueHex: content }).toBER()));
    }
  });

  it("are the sum of the parts given", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (parts) => {
        const joined = Buffer.concat(parts);
        expect(hex(tlv(0x04, ...parts))).toBe(hex(tlv(0x04, joined)));
      }),
    );
  });
});

describe("INTEGERs from unsigned bytes", () => {
  it("are asn1js's encoding of the same non-negative value, leading zeros or not", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const value = bytes.length === 0 ? 0n : BigInt(`0x${hex(bytes)}`);
        expect(hex(unsignedInteger(bytes))).toBe(hex(asn1js.Integer.fromBigInt(value).toBER()));
      }),
    );
  });
});

describe("OBJECT IDENTIFIERs", () => {
  it("are asn1js's for any arcs", () => {
    const arcs = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 32 }), { maxLength: 8 }));
    fc.assert(
      fc.property(arcs, ([first, second, rest]) => {
        const dotted = [first, second, ...rest].join(".");
        expect(hex(oid(dotted))).toBe(hex(new asn1js.ObjectIdentifier({ value: dotted }).toBER()));
      }),
    );
  });

  it("refuses what is not one", () => {
    for (const bad of ["", "1", "1.2.x", "1..2", "1.-2"]) expect(() => oid(bad)).toThrow(/not an object identifier/);
  });
});

describe("named-bit BIT STRINGs", () => {
  it("are what @peculiar/asn1-schema makes of the same flags (trailing zero bits dropped)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (flags) => {
        expect(hex(namedBits(flags))).toBe(hex(AsnConvert.serialize(new BitString(flags))));
      }),
    );
  });
});

describe("Time", () => {
  it("is UTCTime through 2049 and GeneralizedTime from 2050, as asn1js writes each", () => {
    const dates = fc.integer({ min: Date.UTC(1950, 0, 1), max: Date.UTC(2199, 11, 31) }).map((ms) => new Date(Math.floor(ms / 1000) * 1000));
    fc.assert(
      fc.property(dates, (date) => {
        const reference = date.getUTCFullYear() > 2049 ? new asn1js.GeneralizedTime({ valueDate: date }) : new asn1js.UTCTime({ valueDate: date });
        expect(hex(time(date))).toBe(hex(reference.toBER()));
      }),
    );
    expect(time(new Date("2049-12-31T23:59:59Z"))[0]).toBe(0x17);
    expect(time(new Date("2050-01-01T00:00:00Z"))[0]).toBe(0x18);
  });
});

describe("SET OF", () => {
  it("holds its elements in DER's order whatever order they come in", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 6 }), { maxLength: 6 }), (contents) => {
        const items = contents.map((content) => octetString(content));
        const reversed = setOf(...[...items].reverse());
        expect(hex(setOf(...items))).toBe(hex(reversed));
        const sorted = [...items].map(hex).sort((a, b) => (Buffer.compare(Buffer.from(a.padEnd(b.length, "0"), "hex"), Buffer.from(b.padEnd(a.length, "0"), "hex"))));
        expect(hex(setOf(...items))).toBe(hex(tlv(0x31, ...sorted.map((item) => Buffer.from(item, "hex")))));
      }),
    );
  });
});

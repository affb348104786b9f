/**
 * Where a request's client certificate comes from (RFC 8705 §2): the TLS socket when this server terminates
 * TLS (`server.tls`; certificates are requested, not required, and self-signed ones reach the application,
 * which decides), or a header set by a TLS-terminating proxy (`mtls.trustedProxyHeader`). The header is off
 * by default and read only on connections from `server.trustProxy` addresses; from anywhere else it is
 * ignored, since any client could send it. A forwarded certificate's chain is checked here against
 * `mtls.ca` (the proxy may accept certificates this server does not trust).
 */

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, isIPv4 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { GatehouseConfig } from '../config/schema.ts';
import type { ServerContext } from '../context.ts';
import type { ClientAuthRequest } from '../protocol/client-auth.ts';
import { issuedByAuthority, type PresentedCertificate } from '../protocol/client-certificate.ts';

/** Reads a file the config names, failing with the config field in the message. */
export function readConfiguredFile(field: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `config ${field}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** Every certificate in a PEM bundle. */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** A forwarded certificate: URL-encoded PEM (nginx `$ssl_client_escaped_cert`), PEM, or base64 DER. */
export function parseForwardedCertificate(value: string): X509Certificate | undefined {
  try {
    const text = value.includes('%') ? decodeURIComponent(value) : value;
    if (text.includes('-----BEGIN CERTIFICATE-----')) return parseCertificateBundle(text)[0];
    return new X509Certificate(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
  } catch {
    return undefined;
  }
}

function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? match[1]! : address;
}

export class ClientCertificates {
  /** The CAs trusted for `tls_client_auth` (PEM), also handed to the TLS listener. */
  readonly authorityPem: string | undefined;
  private readonly authorities: X509Certificate[];
  private readonly header: string | undefined;
  private readonly proxies: BlockList | 'any' | undefined;

  constructor(config: GatehouseConfig) {
    this.authorityPem =
      config.mtls.ca === undefined ? undefined : readConfiguredFile('mtls.ca', config.mtls.ca);
    this.authorities = this.authorityPem === undefined ? [] : parseCertificateBundle(this.authorityPem);
    if (this.authorityPem !== undefined && this.authorities.length === 0)
      throw new Error(`config mtls.ca: ${config.mtls.ca} holds no certificate`);
    this.header = config.mtls.trustedProxyHeader;
    const trustProxy = config.server.trustProxy;
    if (trustProxy === true) this.proxies = 'any';
    else if (Array.isArray(trustProxy)) {
      const list = new BlockList();
      for (const entry of trustProxy) {
        const [address = '', prefix] = entry.split('/');
        const family = isIPv4(address) ? 'ipv4' : 'ipv6';
        if (prefix === undefined) list.addAddress(address, family);
        else list.addSubnet(address, Number(prefix), family);
      }
      this.proxies = list;
    }
  }

  private fromTrustedProxy(remoteAddress: string | undefined): boolean {
    if (this.proxies === undefined || remoteAddress === undefined) return false;
    if (this.proxies === 'any') return true;
    const address = unmapped(remoteAddress);
    try {
      return this.proxies.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
    } catch {
      return false;
    }
  }

  /** The certificate the request presents, if any. */
  presented(request: FastifyRequest, now: number): PresentedCertificate | undefined {
    const socket = request.raw.socket as Partial<TLSSocket>;
    if (socket.encrypted === true && typeof socket.getPeerX509Certificate === 'function') {
      const certificate = socket.getPeerX509Certificate();
      if (certificate !== undefined)
        return { certificate, trusted: socket.authorized === true && this.authorities.length > 0 };
    }
    if (this.header === undefined || !this.fromTrustedProxy(request.raw.socket.remoteAddress))
      return undefined;
    const value = request.headers[this.header];
    if (typeof value !== 'string' || value === '' || value.length > 16384) return undefined;
    const certificate = parseForwardedCertificate(value);
    if (certificate === undefined) return undefined;
    return { certificate, trusted: issuedByAuthority(certificate, this.authorities, now) };
  }
}

/** What client authentication needs from a request: its Authorization header and client certificate. */
export function clientAuthRequest(ctx: ServerContext, request: FastifyRequest): ClientAuthRequest {
  // The certificate is read on first use only (then kept): most requests authenticate without one, and
  // reading it means parsing it and, behind a proxy, checking its issuer's signature.
  let presented: { certificate: PresentedCertificate | undefined } | undefined;
  return {
    authorization: request.headers.authorization,
    get certificate() {
      presented ??= { certificate: ctx.clientCertificates.presented(request, ctx.now()) };
      return presented.certificate;
    },
  };
}

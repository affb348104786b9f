/**
 * Where a request's client certificate comes from (RFC 8705 §2): the TLS socket when this server terminates
 * TLS (`server.tls`; certificates are requested, not required, and self-signed ones reach the application,
 * which decides), or a header set by a TLS-terminating proxy (`mtls.trustedProxyHeader`). The header is off
 * by default and read only on connections from `server.trustProxy` addresses; from anywhere else it is
 * ignored, since any client could send it. How far a certificate is trusted is decided in protocol/mtls.ts.
 */
import { X509Certificate } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { readConfiguredFile } from '../config/load.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import type { Clock } from '../context.ts';
import type { ClientAuthRequest } from '../protocol/client-auth.ts';
import {
  CertificateAuthorities,
  type PresentedCertificate,
  parseCertificateBundle,
} from '../protocol/mtls.ts';

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
  /** The CAs trusted for `tls_client_auth`; their PEM is also handed to the TLS listener. */
  readonly authorities: CertificateAuthorities;
  private readonly header: string | undefined;
  private readonly proxies: BlockList | 'any' | undefined;

  constructor(
    config: GatehouseConfig,
    private readonly now: Clock,
  ) {
    this.authorities = new CertificateAuthorities(
      config.mtls.ca === undefined ? undefined : readConfiguredFile('mtls.ca', config.mtls.ca),
      config.mtls.ca,
    );
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

  /** The CA bundle (PEM) for the TLS listener, when `mtls.ca` is configured. */
  get authorityPem(): string | undefined {
    return this.authorities.pem;
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
      if (certificate !== undefined) return this.authorities.fromTls(certificate, socket.authorized === true);
    }
    if (this.header === undefined || !this.fromTrustedProxy(request.raw.socket.remoteAddress))
      return undefined;
    const value = request.headers[this.header];
    if (typeof value !== 'string' || value === '' || value.length > 16384) return undefined;
    const certificate = parseForwardedCertificate(value);
    if (certificate === undefined) return undefined;
    return this.authorities.fromProxy(certificate, now);
  }

  /** What client authentication needs from a request: its Authorization header and client certificate. */
  authRequest(request: FastifyRequest): ClientAuthRequest {
    // The certificate is read on first use only (then kept): most requests authenticate without one, and
    // reading it means parsing it and, behind a proxy, checking its issuer's signature.
    const read = () => this.presented(request, this.now());
    let presented: { certificate: PresentedCertificate | undefined } | undefined;
    return {
      authorization: request.headers.authorization,
      get certificate() {
        presented ??= { certificate: read() };
        return presented.certificate;
      },
    };
  }
}

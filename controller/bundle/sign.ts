// ed25519 signatures over the manifest digest (the 32 raw bytes of sha256(manifest.json)).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { sha256 } from '../../compiler/bundle/assemble.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Short id (first 16 hex of sha256 of the SPKI) so a status can say which key signed. */
  keyId: string;
}

function keyId(pub: KeyObject): string {
  return sha256(pub.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function signingKeyFromPem(pem: string | Buffer, source: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(
      `${source}: not a PEM private key (${(err as Error).message}); generate one with \`openssl genpkey -algorithm ed25519\``,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${source}: key type is ${privateKey.asymmetricKeyType}, weir signs with ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyId(publicKey) };
}

export async function loadSigningKey(file: string): Promise<SigningKey> {
  return signingKeyFromPem(await fs.readFile(file), file);
}

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: keyId(publicKey) };
}

export function publicKeyPem(k: SigningKey | KeyObject): string {
  const pub = 'publicKey' in k ? k.publicKey : k;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

export function privateKeyPem(k: SigningKey): string {
  return k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function loadPublicKey(pem: string | Buffer, source: string): KeyObject {
  try {
    const k = createPublicKey(pem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`key type is ${k.asymmetricKeyType}`);
    return k;
  } catch (err) {
    throw new Error(`${source}: not an ed25519 public key in PEM (${(err as Error).message})`);
  }
}

/** Base64 signature of the manifest digest (hex). */
export function signDigest(key: SigningKey, digestHex: string): string {
  return sign(null, Buffer.from(digestHex, 'hex'), key.privateKey).toString('base64');
}

export function verifyDigest(pub: KeyObject, digestHex: string, signatureB64: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(digestHex)) return false;
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, Buffer.from(digestHex, 'hex'), pub, sig);
}

/** Accounts and devices: register, log in, refresh, log out, and checking a bearer token. */
import { ParleyError, type DeviceId, type Tokens, type UserId } from '@parley/protocol';
import type { Store } from '../store/Store.ts';
import { newDeviceId, newUserId } from '../util/ids.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { hashRefresh, newRefreshToken, type Principal, type TokenIssuer } from './tokens.ts';

// A fixed hash to verify against when the handle does not exist, so timing does not reveal it.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export class AuthService {
  constructor(
    private readonly store: Store,
    private readonly tokens: TokenIssuer,
    /** Called after a device is revoked, so its live connections (on any node) are closed. */
    private readonly onRevoked: (p: Principal) => Promise<void> = async () => {},
  ) {}

  private async session(user: UserId, handle: string, device: DeviceId, refresh: string): Promise<Tokens> {
    const { token, expiresAt } = await this.tokens.issue({ user, device });
    return { user, handle, device, access: token, accessExpiresAt: expiresAt, refresh: `${device}.${refresh}` };
  }

  private async newDevice(user: UserId, handle: string, name: string | undefined): Promise<Tokens> {
    const device = newDeviceId();
    const refresh = newRefreshToken();
    await this.store.createDevice({ id: device, user, name: name ?? '', refreshHash: hashRefresh(refresh), createdAt: Date.now() });
    return this.session(user, handle, device, refresh);
  }

  async register(handle: string, password: string, deviceName?: string): Promise<Tokens> {
    const id = newUserId();
    await this.store.createUser({ id, handle, passwordHash: await hashPassword(password), createdAt: Date.now() });
    return this.newDevice(id, handle, deviceName);
  }

  async login(handle: string, password: string, deviceName?: string): Promise<Tokens> {
    const user = await this.store.userByHandle(handle);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) throw new ParleyError('BAD_CREDENTIALS');
    return this.newDevice(user.id, user.handle, deviceName);
  }

  /** Single use: the presented refresh token is replaced; a reused one fails. */
  async refresh(presented: string): Promise<Tokens> {
    const dot = presented.indexOf('.');
    const deviceId = presented.slice(0, dot) as DeviceId;
    const secret = presented.slice(dot + 1);
    const device = dot > 0 ? await this.store.device(deviceId) : null;
    if (!device || device.revoked) throw new ParleyError('UNAUTHORIZED', 'unknown or revoked device');
    const next = newRefreshToken();
    if (!(await this.store.rotateRefresh(deviceId, hashRefresh(secret), hashRefresh(next)))) {
      throw new ParleyError('UNAUTHORIZED', 'refresh token already used or invalid');
    }
    const [user] = await this.store.usersById([device.user]);
    return this.session(device.user, user?.handle ?? '', deviceId, next);
  }

  async logout(p: Principal): Promise<void> {
    await this.store.revokeDevice(p.device);
    await this.onRevoked(p);
  }

  /**
   * Verifies the token and that its device is not revoked. The principal carries the device's
   * acked cursor from that same read (see `Principal.acked`), so a session need not read it again.
   */
  async authenticate(token: string | undefined | null): Promise<Principal> {
    if (!token) throw new ParleyError('UNAUTHORIZED', 'missing access token');
    const p = this.tokens.verifySync(token);
    const device = await this.store.device(p.device);
    if (!device || device.revoked || device.user !== p.user) throw new ParleyError('UNAUTHORIZED', 'device logged out');
    p.acked = device.acked;
    return p;
  }
}

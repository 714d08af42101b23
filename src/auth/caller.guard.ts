import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  UseGuards,
} from '@nestjs/common';
import { AccessService } from './access.service';
import type { TokenSource } from './access-token';
import type { Principal } from './principal';

/** Where CallerGuard leaves a request's principal (a symbol: no request field can be mistaken for it). */
const PRINCIPAL = Symbol('rivulet.principal');

type CallerRequest = TokenSource & { [PRINCIPAL]?: Principal | undefined };

/**
 * Resolves the caller of a request once, before the handler: the verified principal of its access
 * token (Authorization header, `access_token` query parameter or cookie), or undefined when none
 * is given and in open mode (AUTH_JWT_SECRET unset, tokens ignored). A token that is given but bad
 * (forged, expired, malformed) is a 401 here. Whether the caller may do what it asks is the
 * handler's check (AccessService.check), with the request's own topics, ids and scopes.
 */
@Injectable()
export class CallerGuard implements CanActivate {
  constructor(private readonly access: AccessService) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = context.switchToHttp().getRequest<CallerRequest>();
    // Open mode answers at once: no promise for a request that has no token to verify.
    if (this.access.openMode || PRINCIPAL in req) return true;
    return this.access.identify(req).then((principal) => {
      req[PRINCIPAL] = principal;
      return true;
    });
  }
}

/** Runs CallerGuard on a controller's (or a handler's) routes, for @CurrentPrincipal() to read. */
export const ResolveCaller = (): ClassDecorator & MethodDecorator => UseGuards(CallerGuard);

/** The request's caller (see CallerGuard): its Principal, or undefined (no token, or open mode). */
export function principalOf(req: TokenSource): Principal | undefined {
  return (req as CallerRequest)[PRINCIPAL];
}

/**
 * The caller's Principal as a handler parameter, resolved by CallerGuard (the controller must carry
 * @ResolveCaller()). Undefined when the request has no token, and always in open mode.
 */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal | undefined =>
    principalOf(context.switchToHttp().getRequest<TokenSource>()),
);

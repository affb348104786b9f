/**
 * RFC 9470 step-up challenges read by the client: the acr_values and max_age of an
 * insufficient_user_authentication challenge, beside other schemes and parameters, and the authorization
 * options they become; anything else is not a step-up.
 */
import { describe, expect, it } from 'vitest';
import { stepUpAuthorizationOptions, stepUpChallenge } from '../src/index.ts';

describe('stepUpChallenge', () => {
  it('reads acr_values and max_age from the Bearer challenge, with a DPoP challenge beside it', () => {
    const header =
      'Bearer realm="orders-api", error="insufficient_user_authentication", error_description="a stronger authentication of the user is required", acr_values="urn:gatehouse:acr:mfa", max_age=300, DPoP algs="ES256 PS256"';
    expect(stepUpChallenge(header)).toEqual({ acrValues: 'urn:gatehouse:acr:mfa', maxAge: 300 });
    const response = new Response(null, { status: 401, headers: { 'www-authenticate': header } });
    expect(stepUpChallenge(response)).toEqual({ acrValues: 'urn:gatehouse:acr:mfa', maxAge: 300 });
    expect(stepUpChallenge(response.headers)).toEqual({ acrValues: 'urn:gatehouse:acr:mfa', maxAge: 300 });
  });

  it('takes the error on the DPoP challenge too, and a quoted max_age', () => {
    expect(
      stepUpChallenge('DPoP algs="ES256", error="insufficient_user_authentication", max_age="60"'),
    ).toEqual({ maxAge: 60 });
  });

  it('is undefined for other errors, no header, and ignores a malformed max_age', () => {
    expect(stepUpChallenge('Bearer realm="x", error="invalid_token"')).toBeUndefined();
    expect(stepUpChallenge('Bearer error="insufficient_scope", scope="a"')).toBeUndefined();
    expect(stepUpChallenge(null)).toBeUndefined();
    expect(stepUpChallenge(new Response(null, { status: 401 }))).toBeUndefined();
    expect(stepUpChallenge('Bearer error="insufficient_user_authentication", max_age=-5')).toEqual({});
  });

  it('becomes the options of a new authorization request', () => {
    expect(
      stepUpAuthorizationOptions(
        { acrValues: 'urn:gatehouse:acr:mfa', maxAge: 0 },
        { scope: 'openid orders.write', extra: { ui_locales: 'de' } },
      ),
    ).toEqual({
      scope: 'openid orders.write',
      maxAge: 0,
      extra: { ui_locales: 'de', acr_values: 'urn:gatehouse:acr:mfa' },
    });
  });
});

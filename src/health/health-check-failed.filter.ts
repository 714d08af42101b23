import { ArgumentsHost, Catch, ExceptionFilter, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';

/**
 * A failed health check answers 503 with terminus's own body (`{status:"error", info, error,
 * details}`), which probes and humans read, instead of the generic error shape of other routes.
 */
@Catch(ServiceUnavailableException)
export class HealthCheckFailedFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    res.setHeader('Cache-Control', 'no-store');
    res.status(exception.getStatus()).json(exception.getResponse());
  }
}

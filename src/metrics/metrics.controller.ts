import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { MetricsService } from './metrics.service';

@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus exposition of this instance (text format 0.0.4). */
  @Get('metrics')
  async scrape(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.scrape();
    res.setHeader('Cache-Control', 'no-store');
    // Exactly prom-client's content type (express's res.type() would reorder its parameters).
    res.setHeader('Content-Type', contentType);
    res.end(body);
  }
}

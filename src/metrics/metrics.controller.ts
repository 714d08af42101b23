import { Controller, Get, Res } from '@nestjs/common';
import { ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { MetricsService } from './metrics.service';

@ApiTags('metrics')
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus exposition of this instance (text format 0.0.4). */
  @Get('metrics')
  @ApiProduces('text/plain; version=0.0.4')
  @ApiResponse({ status: 200, description: "this instance's Prometheus text exposition" })
  async scrape(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.scrape();
    res.setHeader('Cache-Control', 'no-store');
    // Exactly prom-client's content type (express's res.type() would reorder its parameters).
    res.setHeader('Content-Type', contentType);
    res.end(body);
  }
}

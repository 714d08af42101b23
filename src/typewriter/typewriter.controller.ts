import { Controller, Inject, Query } from '@nestjs/common';
import { Observable } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { LastEventId } from '../sse/last-event-id';
import { SseEndpoint } from '../sse/sse-endpoint.decorator';
import { SseEmission } from '../sse/sse-message';
import { parseTypewriterText } from './dto/typewriter-query.dto';
import { TypewriterService } from './typewriter.service';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { typewriterEvents } from './dto/typewriter-events.dto';

@ApiTags('typewriter')
@Controller('api')
export class TypewriterController {
  constructor(
    private readonly typewriter: TypewriterService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The typewriter stream (seed): `start`, one `chunk` per character (id = index), `end`. */
  @SseEndpoint('stream', 'typewriter', { events: typewriterEvents })
  @ApiQuery({
    name: 'text',
    required: false,
    type: String,
    description: 'the text to type (TYPEWRITER_MAX_TEXT characters at most)',
  })
  stream(
    @Query('text') text: unknown,
    @LastEventId() lastEventId: string | undefined,
  ): Observable<SseEmission> {
    const chars = parseTypewriterText(text, this.config.streams.typewriterMaxText);
    return this.typewriter.stream(chars, lastEventId);
  }
}

import { Module } from '@nestjs/common';
import { TypewriterController } from './typewriter.controller';
import { TypewriterService } from './typewriter.service';

@Module({ controllers: [TypewriterController], providers: [TypewriterService] })
export class TypewriterModule {}

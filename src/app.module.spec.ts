import { Module, ModuleMetadata } from '@nestjs/common';
import { GLOBAL_MODULE_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { AppModule } from './app.module';
import { loadConfig } from './config/app-config';
import { EventLogModule } from './event-log/event-log.module';
import { TopicsService } from './topics/topics.service';

const config = loadConfig({});

/** A module that uses the event log; `imports` says whether it asks for it. */
function userOfTheLog(imports: NonNullable<ModuleMetadata['imports']>) {
  @Module({ imports, providers: [TopicsService] })
  class UserOfTheLog {}
  return UserOfTheLog;
}

describe('AppModule', () => {
  it('wires with explicit imports: only config and logging are global', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(config)],
    }).compile();
    const global = [...moduleRef.get(ModulesContainer).values()]
      .map((module) => module.metatype)
      .filter((type) => Reflect.getMetadata(GLOBAL_MODULE_METADATA, type) === true)
      .map((type) => type.name)
      .sort();
    // Nest's own core, Rivulet's ConfigModule, and nestjs-pino's LoggerModule (LoggingModule).
    expect(global).toEqual(['ConfigModule', 'InternalCoreModule', 'LoggerModule']);
    await moduleRef.close();
  });

  it('a module that does not import what it uses does not start', async () => {
    const compile = (imports: NonNullable<ModuleMetadata['imports']>) =>
      Test.createTestingModule({ imports: [AppModule.forRoot(config), userOfTheLog(imports)] })
        .compile()
        .then((moduleRef) => moduleRef.close());
    await expect(compile([])).rejects.toThrow(/TopicsService/);
    // Negative control: the same module, importing the event log, starts.
    await expect(compile([EventLogModule])).resolves.toBeUndefined();
  });
});

import {
  Controller,
  Get,
  Header,
  NotFoundException,
  Param,
  Req,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ViewerAssets } from './viewer-assets';

/**
 * The page is a strict-CSP shell with no data in it: every figure it shows comes from the admin API,
 * with the caller's own identity, so the page itself needs none (its API calls get 401 and the page asks
 * for a token).
 */
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const ASSET_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Serves the audit viewer at `<admin path>/ui` (its client routes below it) and its assets. */
@ApiExcludeController()
@Controller('ui')
export class ViewerController {
  private readonly assets = ViewerAssets.load();

  @Get('assets/:name')
  asset(@Param('name') name: string, @Req() req: Request, @Res() res: Response): void {
    const asset = ASSET_NAME.test(name) ? this.viewer().asset(name) : undefined;
    if (!asset) throw new NotFoundException('No such viewer asset');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('etag', asset.etag);
    // Content-hashed names: a new build has new names.
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    res.type(asset.contentType).send(asset.body);
  }

  @Get()
  @Header('cache-control', 'no-cache')
  root(@Req() req: Request, @Res() res: Response): void {
    this.sendPage(req, res, '');
  }

  /** Client routes (`/ui/events/:id`, `/ui/resources/...`): the same page, which reads its own URL. */
  @Get('*path')
  @Header('cache-control', 'no-cache')
  route(@Req() req: Request, @Res() res: Response, @Param('path') path: string | string[]): void {
    this.sendPage(req, res, Array.isArray(path) ? path.join('/') : path);
  }

  private sendPage(req: Request, res: Response, subPath: string): void {
    const pathname = req.originalUrl.split('?')[0];
    const suffix = `/ui${subPath ? `/${subPath}` : ''}`;
    const trimmed = pathname.replace(/\/+$/, '');
    const base = trimmed.endsWith(suffix)
      ? trimmed.slice(0, -suffix.length)
      : trimmed.replace(/\/ui(\/.*)?$/, '');
    for (const [name, value] of Object.entries(PAGE_HEADERS)) res.setHeader(name, value);
    res.type('text/html; charset=utf-8').send(this.viewer().page(base));
  }

  private viewer(): ViewerAssets {
    if (!this.assets)
      throw new ServiceUnavailableException('The audit viewer is not built into this package');
    return this.assets;
  }
}

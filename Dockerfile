FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
USER node
# `npm start`; a worker-only container runs `npm run worker`'s entry instead (docker-compose.yml, voipbill-worker).
CMD ["node", "--import", "tsx", "src/main.ts"]
